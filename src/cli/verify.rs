//! `remedy verify [RUN]`, and the verify pass of `run --verify` and
//! `apply --verify`: reads back every user a run acted on and reports
//! drift as a table on stdout and `verify.jsonl` / `verify.md` in the run
//! directory.

use std::path::PathBuf;

use clap::Args;

use crate::exit_code;
use crate::graph::GraphClient;
use crate::playbook::{self, Playbook};
use crate::rundir::{self, RunDir, StateDir};
use crate::verify::{CheckStatus, VerifySummary, verify_run};

use super::graph_args::GraphArgs;
use super::run::{DEFAULT_CONCURRENCY, fail};

/// Check that a run's changes still hold.
///
/// Reads every user the run changed (or found already in the desired
/// state) and compares it with what the run meant to leave: accountEnabled
/// as the playbook wants it (directory sync may flip it back), and for
/// resets and revocations, lastPasswordChangeDateTime or
/// signInSessionsValidFromDateTime moved past the moment the run recorded
/// its intent. The journal says what was done to whom and when.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy verify
  remedy verify 20260101T120000Z-1a2b --state-dir .remedy

Exit codes: 0 no drift, 1 drift found (or users that could not be read), 2 usage, unreadable
run or playbook changed since the run, 3 the credentials are for another tenant than the run's.")]
pub struct VerifyArgs {
    /// The run to verify (a directory name under STATE_DIR/runs). Default:
    /// the latest.
    #[arg(value_name = "RUN")]
    pub run: Option<String>,

    /// Where runs are recorded.
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Users read at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub concurrency: Option<u32>,

    /// Send one request per user instead of `$batch` calls of up to 20.
    #[arg(long)]
    pub no_batch: bool,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &VerifyArgs) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(execute(args))
}

async fn execute(args: &VerifyArgs) -> u8 {
    let state = match StateDir::open(&args.state_dir) {
        Ok(s) => s,
        Err(e) => return fail(&e, Some(e.hint())),
    };
    let run = match state.find_run(args.run.as_deref()) {
        Ok(r) => r,
        Err(e) => return fail(&e, Some(e.hint())),
    };
    let manifest = match run.read_manifest() {
        Ok(m) => m,
        Err(e) => {
            return fail(
                format!("cannot read {}: {e}", run.manifest().display()),
                None,
            );
        }
    };
    if manifest.dry_run {
        return fail(
            format!("run {} was a dry run; it changed nothing to verify", run.id),
            Some("name a run that made changes"),
        );
    }
    if manifest.emulated {
        return fail(
            format!(
                "run {} ran against the built-in emulator, which is gone",
                run.id
            ),
            Some("verify emulated runs in the same invocation: `remedy run … --emulate --verify`"),
        );
    }
    let copy = run.path.join("playbook.yaml");
    let pb_path = if copy.is_file() {
        copy
    } else {
        PathBuf::from(&manifest.playbook_file)
    };
    let Some(playbook) = load_playbook(&pb_path, &manifest.playbook_sha256) else {
        return exit_code::USAGE;
    };
    let client = match args.graph.connect() {
        Ok(c) => c,
        Err(e) => return fail(&e, e.hint().as_deref()),
    };
    let token = match client.tokens().token().await {
        Ok(t) => t,
        Err(e) => {
            return fail(
                format!("cannot get an access token: {e}"),
                e.hint().as_deref(),
            );
        }
    };
    let tid = token.claims.as_ref().and_then(|c| c.tid.clone());
    if let (Some(run_tenant), Some(tid)) = (&manifest.tenant, &tid)
        && !run_tenant.eq_ignore_ascii_case(tid)
    {
        eprintln!(
            "error: run {} changed tenant {run_tenant}, but the credentials are for tenant {tid}",
            run.id
        );
        eprintln!("  hint: use the credentials of the run's tenant");
        return exit_code::GUARD;
    }
    let concurrency = args
        .concurrency
        .or(playbook.settings.concurrency)
        .unwrap_or(DEFAULT_CONCURRENCY) as usize;
    let batch = !args.no_batch && playbook.settings.batch.unwrap_or(true);
    verify_after_run(&client, &run, &playbook, concurrency, batch).await
}

/// The run's playbook, if it still has the run's SHA-256.
fn load_playbook(path: &std::path::Path, sha256: &str) -> Option<Playbook> {
    match rundir::sha256_file(path) {
        Ok(h) if h == sha256 => {}
        Ok(_) => {
            fail(
                format!(
                    "{} is not the playbook the run used (SHA-256 differs)",
                    path.display()
                ),
                Some("verify needs the run's playbook to know what each step meant"),
            );
            return None;
        }
        Err(e) => {
            fail(format!("cannot read {}: {e}", path.display()), None);
            return None;
        }
    }
    let name = path.display().to_string();
    let loaded = playbook::load(path, &name);
    if loaded.playbook.is_none() {
        fail(
            format!("{name} no longer loads"),
            Some("check it with `remedy validate`"),
        );
    }
    loaded.playbook
}

/// Runs the verify pass over `run`, prints its table, and returns the exit
/// code: 0 no drift, 1 drift or unreadable users, 2 the pass failed.
pub(super) async fn verify_after_run(
    client: &GraphClient,
    run: &RunDir,
    playbook: &Playbook,
    concurrency: usize,
    batch: bool,
) -> u8 {
    eprintln!("verifying: reading back every user run {} acted on", run.id);
    let send = crate::graph::SendOptions {
        concurrency,
        batch,
        max_rate: None,
    };
    let directory = crate::directory::Directory::Graph(crate::graph::GraphDirectory::new(
        client.clone(),
        send,
        crate::graph::GraphDirectory::target_of(client, None, None),
    ));
    match verify_run(&directory, &run.journal(), playbook, &run.path).await {
        Ok(summary) => {
            print!("{}", table(&summary));
            eprintln!(
                "verify report: {} and {}",
                run.path.join("verify.jsonl").display(),
                run.path.join("verify.md").display()
            );
            if summary.drift + summary.errors > 0 {
                exit_code::PROBLEMS
            } else {
                exit_code::OK
            }
        }
        Err(e) => fail(format!("the verify pass failed: {e}"), None),
    }
}

/// The terminal table: counts, then the checks that did not hold.
fn table(s: &VerifySummary) -> String {
    let mut out = format!(
        "\nVerify: {} users, {} checks: {} ok, {} drift, {} errors\n",
        s.users, s.checks, s.ok, s.drift, s.errors
    );
    if s.shown.is_empty() {
        return out;
    }
    let rows: Vec<[String; 6]> = s
        .shown
        .iter()
        .map(|c| {
            [
                if c.status == CheckStatus::Drift {
                    "DRIFT"
                } else {
                    "ERROR"
                }
                .to_owned(),
                c.user.clone(),
                c.step.clone(),
                c.property.to_owned(),
                c.expected.clone(),
                c.actual.clone(),
            ]
        })
        .collect();
    let head = ["STATUS", "USER", "STEP", "PROPERTY", "EXPECTED", "ACTUAL"];
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let clean: String = c
                .chars()
                .map(|ch| if ch.is_control() { ' ' } else { ch })
                .collect();
            if i + 1 == cells.len() {
                l.push_str(&clean);
            } else {
                l.push_str(&format!("{clean:<w$}  ", w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line(&head));
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    let more = s.drift + s.errors - s.shown.len() as u64;
    if more > 0 {
        out.push_str(&format!("… and {more} more in verify.jsonl\n"));
    }
    out
}
