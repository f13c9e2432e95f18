//! `remedy run`: validate, connect, confirm, then apply the playbook to
//! every user, durably, with progress and reports.

use std::collections::HashMap;
use std::io::{BufRead, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use secrecy::SecretString;
use tokio::sync::mpsc;

use crate::diag::{self, Diagnostic, Severity};
use crate::engine::{self, Context, Row, RunEvent, SendOptions, StopSignal, Stopped};
use crate::exit_code;
use crate::graph::GraphClient;
use crate::graph::auth::{Credential, TokenProvider};
use crate::graph::batch::MAX_BATCH;
use crate::graph::client::{ClientOptions, http_client};
use crate::graph::cloud::{Cloud, Endpoints};
use crate::input::{self, UserReader};
use crate::journal::{self, Header, Journal, Record, Replay};
use crate::operator::Operator;
use crate::playbook::{self, PasswordSource, Playbook, StepKind};
use crate::report::progress::{self, ProgressMode};
use crate::rundir::{self, Counts, Manifest, RunDir, RunStatus, StateDir, StepInfo};
use crate::secrets::SecretsFile;
use crate::shard::Shard;

use super::ColorChoice;
use super::graph_args::GraphArgs;

/// Default users in flight when neither the flag nor the playbook says.
pub const DEFAULT_CONCURRENCY: u32 = 16;

/// Apply a playbook to every user in a CSV.
///
/// Validates the playbook and the CSV first (any error: exit 2, nothing
/// touched), shows what will happen and asks for confirmation, then runs
/// users concurrently while honouring Graph's throttling. Every intent and
/// outcome is journaled under --state-dir, so an interrupted run resumes
/// with --resume without doing anything twice. Generated passwords are
/// written only to the run's secrets.csv (mode 0600).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy run workflows/unlock-account.yaml --users examples/users.csv --emulate --yes
  remedy run workflows/unlock-account.yaml --users locked.csv --dry-run
  remedy run workflows/incident-response.yaml --users compromised.csv
  remedy run workflows/incident-response.yaml --users compromised.csv --resume
  remedy run workflows/unlock-account.yaml --users huge.csv --shard 2/3 --max-rate 6 --yes

Exit codes: 0 all users ok/changed/skipped, 1 some users failed, 2 invalid input or usage
(nothing changed), 3 a guard stopped the run, 130 interrupted (resume with --resume).")]
pub struct RunArgs {
    /// The playbook (YAML).
    #[arg(value_name = "PLAYBOOK")]
    pub playbook: PathBuf,

    /// The users (CSV: plain, Entra export or bulk template).
    #[arg(long, value_name = "CSV")]
    pub users: PathBuf,

    /// Read every user and report what would change; change nothing.
    #[arg(long)]
    pub dry_run: bool,

    /// Users (and so Graph requests) in flight at once. Default: the
    /// playbook's `settings.concurrency`, else 16.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub concurrency: Option<u32>,

    /// Send one request per step instead of packing requests of many users
    /// into Graph `$batch` calls of up to 20 (the default; the playbook's
    /// `settings.batch` can also turn it off).
    #[arg(long)]
    pub no_batch: bool,

    /// Ceiling of the shared request rate, in requests (or batch items) per
    /// second; the rate adapts below it when Graph throttles. Default: the
    /// playbook's `settings.max_rate`, else no ceiling until Graph throttles.
    #[arg(long, value_name = "PER_SECOND")]
    pub max_rate: Option<f64>,

    /// Process only shard I of N (1-based): the users whose key (case-folded)
    /// hashes there, so N processes can split one CSV. The whole CSV is still
    /// validated. The shards share the tenant's throttling budget: give each
    /// about 1/N of it with --max-rate.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<Shard>,

    /// Where runs are recorded (journal, secrets, reports).
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Continue an interrupted run (the latest, or the one named).
    #[arg(long, value_name = "RUN", num_args = 0..=1, default_missing_value = "")]
    pub resume: Option<String>,

    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long)]
    pub yes: bool,

    /// Progress display: bars on a terminal, counter lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    pub progress: ProgressMode,

    /// Where to write results.csv, results.jsonl, junit.xml and summary.md.
    /// Default: the run's directory.
    #[arg(long, value_name = "DIR")]
    pub report_dir: Option<PathBuf>,

    /// Run against a built-in Graph emulator on 127.0.0.1 seeded with the
    /// CSV's users. No real tenant is touched.
    #[arg(long)]
    pub emulate: bool,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &RunArgs, color: ColorChoice) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(execute(args, color))
}

fn fail(message: impl std::fmt::Display, hint: Option<&str>) -> u8 {
    eprintln!("error: {message}");
    if let Some(h) = hint {
        eprintln!("  hint: {h}");
    }
    exit_code::USAGE
}

async fn execute(args: &RunArgs, color: ColorChoice) -> u8 {
    // 1. Validate everything before touching anything.
    let pb_name = args.playbook.display().to_string();
    let csv_name = args.users.display().to_string();
    let loaded = playbook::load(&args.playbook, &pb_name);
    let mut diags: Vec<Diagnostic> = loaded.diagnostics;
    let checked = loaded
        .playbook
        .as_ref()
        .map(|p| input::check_csv(&args.users, &csv_name, &p.input));
    if let Some(c) = &checked {
        diags.extend(c.diagnostics.iter().cloned());
    }
    if !diags.is_empty() {
        eprint!(
            "{}",
            diag::render_human(&diags, color.stderr_enabled(), 100)
        );
    }
    let errors = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    let (Some(playbook), Some(checked)) = (loaded.playbook, checked) else {
        return fail(
            "the playbook has errors; nothing was changed",
            Some("check it with `remedy validate`"),
        );
    };
    if errors > 0 {
        return fail(
            format!(
                "{errors} problem{} in the input; nothing was changed",
                if errors == 1 { "" } else { "s" }
            ),
            Some("fix them (`remedy validate PLAYBOOK --users CSV` shows the same list)"),
        );
    }
    let csv_rows = checked.rows;
    let mut users = csv_rows;
    if let Some(max) = playbook.guards.max_users
        && users > max
    {
        eprintln!(
            "error: {users} users exceed the playbook's `guards.max_users` ({max}); nothing was changed"
        );
        eprintln!("  hint: split the CSV, or raise `max_users` if this many users is intended");
        return exit_code::GUARD;
    }
    if let Some(shard) = args.shard {
        users = match shard.count_rows(&args.users, &csv_name, &playbook.input.key) {
            Ok(n) => n,
            Err(e) => return fail(e, None),
        };
        eprintln!("shard {shard}: {users} of the CSV's {csv_rows} users");
    }
    let playbook = Arc::new(playbook);
    let (pb_hash, csv_hash) = match (
        rundir::sha256_file(&args.playbook),
        rundir::sha256_file(&args.users),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return fail(format!("cannot read the inputs: {e}"), None),
    };

    tracing::info!(
        playbook = %pb_name,
        csv = %csv_name,
        users,
        csv_rows,
        shard = args.shard.map(tracing::field::display),
        "inputs validated"
    );

    // 2. Connect (or start the emulator) and check the tenant pin.
    let mut emulator = None;
    let client = if args.emulate {
        match start_emulator(&args.users).await {
            Ok((emu, client)) => {
                eprintln!(
                    "EMULATOR: running against the built-in Graph emulator at {} (tenant {}); no real tenant is touched",
                    emu.url(),
                    emu.tenant_domain()
                );
                emulator = Some(emu);
                client
            }
            Err(e) => return fail(format!("cannot start the emulator: {e}"), None),
        }
    } else {
        match args.graph.connect() {
            Ok(c) => c,
            Err(e) => return fail(&e, e.hint().as_deref()),
        }
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
    let app_id = token
        .claims
        .as_ref()
        .and_then(|c| c.app_id().map(str::to_owned));
    if let Some(pin) = &playbook.tenant
        && let Err(message) = check_tenant(
            &client,
            pin,
            tid.as_deref(),
            emulator.as_ref().map(|e| e.tenant_domain()),
        )
        .await
    {
        eprintln!("error: {message}; nothing was changed");
        eprintln!(
            "  hint: the playbook pins `target.tenant: {pin}`; check AZURE_TENANT_ID and the credentials"
        );
        return exit_code::GUARD;
    }

    tracing::info!(
        graph = %client.endpoints().graph,
        tenant = tid.as_deref(),
        app_id = app_id.as_deref(),
        "connected"
    );

    // 3. State directory, and what an earlier run already did.
    let state = match StateDir::open(&args.state_dir) {
        Ok(s) => s,
        Err(e) => return fail(&e, Some(e.hint())),
    };
    let (run_dir, replay, saved_passwords, started) = match &args.resume {
        Some(id) => match prepare_resume(&state, id, &pb_hash, &csv_hash, args) {
            Ok(r) => r,
            Err(code) => return code,
        },
        None => match state.new_run() {
            Ok(r) => (r, None, HashMap::new(), rundir::now_rfc3339()),
            Err(e) => return fail(&e, Some(e.hint())),
        },
    };
    let already_done = replay.as_ref().map_or(0, |r| r.done.len() as u64);

    // 4. Confirm before the first change.
    if args.dry_run {
        eprintln!("DRY RUN: reading live state; nothing will be changed");
    } else if !args.yes {
        if !std::io::stdin().is_terminal() {
            return fail(
                "stdin is not a terminal, so remedy cannot ask for confirmation; nothing was changed",
                Some("pass --yes to confirm non-interactively (after a --dry-run)"),
            );
        }
        eprint!(
            "{}",
            confirmation_text(
                &playbook,
                users,
                already_done,
                tid.as_deref(),
                &client.endpoints().graph,
                &args.shard.map_or_else(
                    || csv_name.clone(),
                    |s| format!("{csv_name}, shard {s} of its {csv_rows} rows")
                )
            )
        );
        if !confirmed() {
            eprintln!("aborted; nothing was changed");
            return exit_code::USAGE;
        }
    }

    // 5. Manifest and journal.
    let mut manifest = Manifest {
        run_id: run_dir.id.clone(),
        remedy_version: env!("CARGO_PKG_VERSION").to_owned(),
        operator: Operator::current(),
        playbook_name: playbook.name.clone(),
        playbook_file: pb_name.clone(),
        playbook_sha256: pb_hash.clone(),
        csv_file: csv_name.clone(),
        csv_sha256: csv_hash.clone(),
        tenant: tid.clone(),
        app_id,
        graph_url: client.endpoints().graph.clone(),
        emulated: args.emulate,
        dry_run: args.dry_run,
        shard: args.shard,
        steps: playbook
            .steps
            .iter()
            .map(|s| StepInfo {
                id: s.id.clone(),
                title: s.title().to_owned(),
            })
            .collect(),
        started: started.clone(),
        finished: None,
        status: RunStatus::Running,
        counts: Counts {
            users,
            csv_rows,
            ..Counts::default()
        },
    };
    if let Err(e) = run_dir.write_manifest(&manifest) {
        return fail(
            format!("cannot write {}: {e}", run_dir.manifest().display()),
            None,
        );
    }
    let journal = match open_journal(&run_dir, &playbook, &manifest, replay.is_some()) {
        Ok(j) => j,
        Err(e) => {
            return fail(
                format!("cannot open the journal in {}: {e}", run_dir.path.display()),
                None,
            );
        }
    };

    tracing::info!(run_id = %run_dir.id, dry_run = args.dry_run, resumed = replay.is_some(), "run started");

    // 6. Run.
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let titles: Vec<String> = playbook
        .steps
        .iter()
        .map(|s| s.title().to_owned())
        .collect();
    let progress = progress::spawn(
        args.progress,
        titles,
        args.dry_run,
        Duration::from_secs(2),
        color.stderr_enabled(),
        events_rx,
    );
    let _ = events_tx.send(RunEvent::Total {
        users,
        already_done,
    });
    let concurrency = args
        .concurrency
        .or(playbook.settings.concurrency)
        .unwrap_or(DEFAULT_CONCURRENCY) as usize;
    let batch = !args.no_batch && playbook.settings.batch.unwrap_or(true);
    let send = SendOptions {
        concurrency,
        batch,
        max_rate: args.max_rate.or(playbook.settings.max_rate),
    };
    // With batching, enough users must be in flight to fill `concurrency`
    // batches of 20.
    let users_in_flight = if batch {
        concurrency * MAX_BATCH
    } else {
        concurrency
    };
    let cx = match Context::new(
        client,
        send,
        playbook.clone(),
        Some(journal),
        args.dry_run,
        saved_passwords,
        events_tx.clone(),
    ) {
        Ok(cx) => Arc::new(cx),
        Err(e) => return fail(format!("a `when` condition does not compile: {e}"), None),
    };
    let stop = StopSignal::default();
    watch_signals(stop.clone(), events_tx.clone(), run_dir.id.clone());
    drop(events_tx);
    let (rows_tx, rows_rx) = mpsc::channel(users_in_flight * 2 + 16);
    let reader = spawn_reader(
        args.users.clone(),
        csv_name.clone(),
        playbook.clone(),
        args.shard,
        rows_tx,
    );
    let replay = replay.map(Arc::new);
    let totals = engine::drive(
        cx.clone(),
        rows_rx,
        replay,
        users_in_flight,
        users,
        playbook.guards.max_failures,
        stop,
    )
    .await;
    let reader_result = reader
        .join()
        .unwrap_or_else(|_| Err("the CSV reader stopped unexpectedly".into()));

    // 7. Close the journal, then report from it.
    let journal = Arc::into_inner(cx).and_then(|cx| cx.journal);
    let journal_ok = match journal.map(Journal::close) {
        Some(Err(e)) => {
            eprintln!("error: the journal could not be completed: {e}");
            false
        }
        _ => true,
    };
    let _ = progress.await;
    if let Some(emu) = emulator.take() {
        emu.shutdown().await;
    }
    manifest.finished = Some(rundir::now_rfc3339());
    manifest.status = match &totals.stopped {
        Some(Stopped::Guard(_)) => RunStatus::StoppedByGuard,
        Some(Stopped::Interrupted) => RunStatus::Interrupted,
        None => RunStatus::Completed,
    };
    manifest.counts = Counts {
        users,
        csv_rows,
        processed: totals.processed,
        failed: totals.failed,
        done_earlier: totals.done_earlier,
    };
    tracing::info!(
        run_id = %run_dir.id,
        status = ?manifest.status,
        processed = totals.processed,
        failed = totals.failed,
        done_earlier = totals.done_earlier,
        "run finished"
    );
    if let Err(e) = run_dir.write_manifest(&manifest) {
        eprintln!(
            "warning: cannot update {}: {e}",
            run_dir.manifest().display()
        );
    }
    let report_dir = args
        .report_dir
        .clone()
        .unwrap_or_else(|| run_dir.path.clone());
    let steps: Vec<(String, String)> = manifest
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect();
    let info = crate::report::RunInfo {
        run_id: run_dir.id.clone(),
        playbook_name: playbook.name.clone(),
        playbook_file: pb_name,
        csv_file: csv_name,
        dry_run: args.dry_run,
        tenant: tid,
        shard: args.shard.map(|s| s.to_string()),
        started,
        finished: manifest.finished.clone().unwrap_or_default(),
    };
    match crate::report::write_reports(&run_dir.journal(), &steps, &info, &report_dir) {
        Ok(summary) => {
            print!(
                "{}",
                crate::report::render_table(&summary, args.dry_run, 20)
            );
            let _ = std::io::stdout().flush();
        }
        Err(e) => eprintln!(
            "error: cannot write the reports to {}: {e}",
            report_dir.display()
        ),
    }
    eprintln!("run {} recorded in {}", run_dir.id, run_dir.path.display());
    if run_dir.secrets().exists() {
        eprintln!(
            "new passwords: {} (mode 0600; hand them to the users securely, then delete the file)",
            run_dir.secrets().display()
        );
    }
    if let Err(e) = reader_result {
        eprintln!("error: {e}");
        return exit_code::USAGE;
    }
    match totals.stopped {
        Some(Stopped::Interrupted) => {
            eprintln!(
                "interrupted: resume with `remedy run {} --users {} --resume {}`",
                args.playbook.display(),
                args.users.display(),
                run_dir.id
            );
            exit_code::INTERRUPTED
        }
        Some(Stopped::Guard(reason)) => {
            eprintln!("stopped by a guard: {reason}");
            exit_code::GUARD
        }
        None if totals.failed > 0 || !journal_ok => exit_code::PROBLEMS,
        None => exit_code::OK,
    }
}

/// Starts the in-process emulator seeded from the CSV, and a client for it.
async fn start_emulator(
    users: &Path,
) -> Result<(crate::emulator::RunningEmulator, GraphClient), String> {
    let config = crate::emulator::EmulatorConfig {
        users: crate::emulator::UserSource::Csv(users.to_owned()),
        ..crate::emulator::EmulatorConfig::default()
    };
    let emu = crate::emulator::start(config)
        .await
        .map_err(|e| e.to_string())?;
    let endpoints = Endpoints::resolve(Cloud::Global, Some(&emu.url()), Some(&emu.url()))
        .map_err(|e| e.to_string())?;
    let credential = Credential::ClientSecret {
        tenant: emu.tenant_id().to_owned(),
        client_id: "remedy-emulate".to_owned(),
        secret: SecretString::from("emulator".to_owned()),
    };
    let http = http_client(&ClientOptions::default()).map_err(|e| e.to_string())?;
    let tokens = Arc::new(TokenProvider::new(
        http.clone(),
        endpoints.clone(),
        credential,
    ));
    Ok((emu, GraphClient::new(http, endpoints, tokens)))
}

/// The tenant pin holds when the token's tenant is the pinned GUID, or the
/// pinned domain resolves (OpenID metadata) to the token's tenant.
async fn check_tenant(
    client: &GraphClient,
    pin: &str,
    tid: Option<&str>,
    emulated_domain: Option<&str>,
) -> Result<(), String> {
    let Some(tid) = tid else {
        return Err(
            "the access token does not name its tenant, so the tenant pin cannot be checked".into(),
        );
    };
    if pin.eq_ignore_ascii_case(tid) || emulated_domain.is_some_and(|d| d.eq_ignore_ascii_case(pin))
    {
        return Ok(());
    }
    if input::is_guid(pin) {
        return Err(format!(
            "the credentials are for tenant {tid}, not the pinned {pin}"
        ));
    }
    let url = format!(
        "{}/{pin}/v2.0/.well-known/openid-configuration",
        client.endpoints().authority
    );
    // The run's own client: the same TLS trust (`--ca-file`) as every other
    // call to the authority.
    let issuer = async {
        let v: serde_json::Value = client
            .http()
            .get(&url)
            .timeout(Duration::from_secs(15))
            .send()
            .await
            .ok()?
            .error_for_status()
            .ok()?
            .json()
            .await
            .ok()?;
        v.get("issuer")?.as_str().map(str::to_owned)
    }
    .await
    .ok_or_else(|| format!("cannot resolve the pinned tenant domain {pin} ({url})"))?;
    if issuer
        .to_ascii_lowercase()
        .contains(&tid.to_ascii_lowercase())
    {
        Ok(())
    } else {
        Err(format!(
            "the credentials are for tenant {tid}, but {pin} belongs to another tenant ({issuer})"
        ))
    }
}

type Prepared = (
    RunDir,
    Option<Replay>,
    HashMap<String, SecretString>,
    String,
);

fn prepare_resume(
    state: &StateDir,
    id: &str,
    pb_hash: &str,
    csv_hash: &str,
    args: &RunArgs,
) -> Result<Prepared, u8> {
    let dry_run = args.dry_run;
    let run = state
        .find_run((!id.is_empty()).then_some(id))
        .map_err(|e| fail(&e, Some(e.hint())))?;
    let m = run.read_manifest().map_err(|e| {
        fail(
            format!("cannot read {}: {e}", run.manifest().display()),
            None,
        )
    })?;
    if m.dry_run || dry_run {
        return Err(fail(
            format!(
                "run {} {}",
                run.id,
                if m.dry_run {
                    "was a dry run; there is nothing to resume"
                } else {
                    "cannot be resumed as a dry run"
                }
            ),
            Some("start a new run without --resume"),
        ));
    }
    if m.playbook_sha256 != pb_hash {
        return Err(fail(
            format!(
                "the playbook changed since run {} started (SHA-256 differs); refusing to resume",
                run.id
            ),
            Some("resume with the exact playbook the run started with, or start a new run"),
        ));
    }
    if m.shard != args.shard {
        let shown = |s: Option<Shard>| {
            s.map_or_else(|| "the whole CSV".to_owned(), |s| format!("shard {s}"))
        };
        return Err(fail(
            format!(
                "run {} covered {}, not {}; refusing to resume",
                run.id,
                shown(m.shard),
                shown(args.shard)
            ),
            Some("resume with the --shard the run started with (`remedy runs` shows it)"),
        ));
    }
    if m.csv_sha256 != csv_hash {
        return Err(fail(
            format!(
                "the CSV changed since run {} started (SHA-256 differs); refusing to resume",
                run.id
            ),
            Some("resume with the exact CSV the run started with, or start a new run"),
        ));
    }
    if m.status == RunStatus::Completed {
        // Every user has a final outcome: nothing to replay or send.
        eprintln!(
            "run {} already completed ({} users, {} failed); nothing to do. Reports: {}",
            run.id,
            m.counts.users,
            m.counts.failed,
            run.path.display()
        );
        return Err(if m.counts.failed > 0 {
            exit_code::PROBLEMS
        } else {
            exit_code::OK
        });
    }
    let replay = Replay::read(&run.journal()).map_err(|e| {
        fail(
            &e,
            Some("the run's journal is damaged; inspect it before starting a new run"),
        )
    })?;
    if replay.truncated_bytes > 0 {
        eprintln!(
            "note: cut {} bytes of a torn last journal line (the process died mid-write)",
            replay.truncated_bytes
        );
    }
    let saved = if run.secrets().exists() {
        let cut = SecretsFile::cut_torn_tail(&run.secrets()).map_err(|e| {
            fail(
                format!("cannot repair {}: {e}", run.secrets().display()),
                None,
            )
        })?;
        if cut > 0 {
            eprintln!(
                "note: cut {cut} bytes of a torn last line of secrets.csv (the process died mid-write; that reset was never sent)"
            );
        }
        // Only users with an intent pending need their saved password.
        SecretsFile::read_for(&run.secrets(), |user| {
            replay
                .partial
                .get(user)
                .is_some_and(|p| !p.pending.is_empty())
        })
        .map_err(|e| {
            fail(
                format!("cannot read {}: {e}", run.secrets().display()),
                None,
            )
        })?
    } else {
        HashMap::new()
    };
    eprintln!(
        "resuming run {} ({} users already done)",
        run.id,
        replay.done.len()
    );
    Ok((run, Some(replay), saved, m.started))
}

fn open_journal(
    run: &RunDir,
    playbook: &Playbook,
    manifest: &Manifest,
    resumed: bool,
) -> std::io::Result<Journal> {
    let generates = !manifest.dry_run
        && playbook
            .steps
            .iter()
            .any(|s| matches!(&s.kind, StepKind::ResetPassword(r) if r.password == PasswordSource::Generate));
    let secrets = match (generates, resumed, run.secrets().exists()) {
        (false, _, _) => None,
        (true, true, true) => Some(SecretsFile::open_append(&run.secrets())?),
        (true, _, _) => Some(SecretsFile::create(&run.secrets())?),
    };
    let j = Journal::open(&run.journal(), secrets)?;
    if !resumed {
        j.write(&Record::Header(Header {
            format: journal::FORMAT,
            run_id: manifest.run_id.clone(),
            playbook_sha256: manifest.playbook_sha256.clone(),
            csv_sha256: manifest.csv_sha256.clone(),
            dry_run: manifest.dry_run,
            remedy_version: manifest.remedy_version.clone(),
        }))?;
    }
    Ok(j)
}

fn confirmation_text(
    p: &Playbook,
    users: u64,
    done: u64,
    tid: Option<&str>,
    graph: &str,
    csv: &str,
) -> String {
    let mut s = format!(
        "About to change accounts in tenant {} ({graph}):\n",
        tid.unwrap_or("(unknown)")
    );
    s.push_str(&format!("  playbook  {} ({})\n", p.file, p.name));
    s.push_str(&format!("  users     {users} from {csv}"));
    if done > 0 {
        s.push_str(&format!(", {done} already done by the resumed run"));
    }
    s.push('\n');
    for (i, step) in p.steps.iter().enumerate() {
        let scope = match &step.kind {
            StepKind::Ensure(_) => "changes only users not already in that state",
            _ => "acts once on every user",
        };
        s.push_str(&format!(
            "  step {}    {} ({}): {scope}",
            i + 1,
            step.title(),
            step.kind.describe()
        ));
        if let Some(w) = &step.when {
            s.push_str(&format!(", when {w}"));
        }
        s.push('\n');
    }
    if let Some(m) = p.guards.max_failures {
        s.push_str(&format!(
            "  guard     stop after {} failed users\n",
            m.allowed(users)
        ));
    }
    if p.guards.protect_privileged {
        s.push_str("  guard     holders of directory roles are skipped\n");
    }
    if !p.guards.protected_users.is_empty() {
        s.push_str(&format!(
            "  guard     {} named users are skipped\n",
            p.guards.protected_users.len()
        ));
    }
    s.push_str("Proceed? [y/N] ");
    s
}

fn confirmed() -> bool {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// First Ctrl-C/SIGTERM: stop scheduling and let in-flight users finish.
/// Second: exit now (the journal stays consistent: a torn last line is cut
/// on resume).
fn watch_signals(stop: StopSignal, events: mpsc::UnboundedSender<RunEvent>, run_id: String) {
    // A weak sender: this task must not keep the progress display alive.
    let events = events.downgrade();
    tokio::spawn(async move {
        if wait_signal().await.is_err() {
            return;
        }
        stop.stop();
        if let Some(events) = events.upgrade() {
            let _ = events.send(RunEvent::Interrupted);
        }
        eprintln!(
            "stopping: no new users will start; in-flight users finish. Press Ctrl-C again to abort now."
        );
        if wait_signal().await.is_ok() {
            eprintln!("aborted; resume with --resume {run_id}");
            std::process::exit(i32::from(exit_code::INTERRUPTED));
        }
    });
}

async fn wait_signal() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}

/// Streams the CSV on its own thread into a bounded channel: memory holds
/// at most the channel's rows plus the users in flight.
fn spawn_reader(
    path: PathBuf,
    name: String,
    playbook: Arc<Playbook>,
    shard: Option<Shard>,
    tx: mpsc::Sender<Row>,
) -> std::thread::JoinHandle<Result<(), String>> {
    std::thread::spawn(move || {
        let mut reader = UserReader::open(&path, &name).map_err(|d| d.to_string())?;
        let header = reader.header().clone();
        let key = header.index_of(&playbook.input.key).ok_or_else(|| {
            format!(
                "{name}: the key column `{}` disappeared",
                playbook.input.key
            )
        })?;
        let columns: Vec<Option<usize>> = playbook
            .input
            .columns
            .iter()
            .map(|c| header.index_of(c))
            .collect();
        while let Some(row) = reader.next_row() {
            let row =
                row.map_err(|d| format!("the CSV changed while the run was reading it: {d}"))?;
            let key_cell = row.fields.get(key).map_or("", String::as_str);
            if shard.is_some_and(|s| !s.contains(key_cell)) {
                continue;
            }
            let values = columns
                .iter()
                .map(|i| {
                    i.and_then(|i| row.fields.get(i).cloned())
                        .unwrap_or_default()
                })
                .collect();
            let r = Row {
                row: row.row,
                key: row.fields.get(key).cloned().unwrap_or_default(),
                values,
            };
            if tx.blocking_send(r).is_err() {
                // The engine stopped scheduling (guard or Ctrl-C).
                break;
            }
        }
        Ok(())
    })
}
