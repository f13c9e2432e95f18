//! `remedy run`: validate, connect, confirm, then apply the playbook to
//! every user, durably, with progress and reports.

use std::collections::HashMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use tokio::sync::mpsc;

use crate::diag::{self, Diagnostic, Severity};
use crate::engine::{self, Context, RunEvent, StopSignal, Stopped};
use crate::exit_code;
use crate::graph::{GraphDirectory, SendOptions};
use crate::input;
use crate::journal::Journal;
use crate::operator::Operator;
use crate::plan::{Binding, PlanWriter};
use crate::playbook;
use crate::report::progress::{self, ProgressMode};
use crate::rundir::StepInfo;
use crate::rundir::{self, Counts, Manifest, RunStatus, StateDir};
use crate::shard::Shard;

use super::ColorChoice;
use super::graph_args::GraphArgs;
pub(super) use super::run_mode::{Finished, Mode};
use super::run_mode::{plan_header, plan_sha};
use super::run_setup::{
    applied_plan, check_tenant, confirmation_text, confirmed, open_journal, prepare_resume,
    spawn_reader, start_emulator, watch_signals,
};
use super::send_args::SendArgs;

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
  remedy run workflows/unlock-account.yaml --users locked.csv --yes --verify

Exit codes: 0 all users ok/changed/skipped, 1 some users failed (or --verify found drift),
2 invalid input or usage, or a missing permission (nothing changed), 3 a guard stopped the
run, 130 interrupted (resume with --resume).")]
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

    /// After the run, read every user back and report drift: sign-in not
    /// as desired, a reset or revocation whose timestamp did not move
    /// (see `remedy verify`).
    #[arg(long, conflicts_with = "dry_run")]
    pub verify: bool,

    /// Skip the permission preflight: the token's `roles` are not checked
    /// before the run, and a missing permission fails user by user.
    #[arg(long)]
    pub no_preflight: bool,

    #[command(flatten)]
    pub send: SendArgs,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &RunArgs, color: ColorChoice) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    runtime.block_on(execute(args, &Mode::Run, color)).code
}

pub(super) fn fail(message: impl std::fmt::Display, hint: Option<&str>) -> u8 {
    eprintln!("error: {message}");
    if let Some(h) = hint {
        eprintln!("  hint: {h}");
    }
    exit_code::USAGE
}

/// Exit with `code` and no plan.
fn stop(code: u8) -> Finished {
    Finished { code, plan: None }
}

pub(super) async fn execute(args: &RunArgs, mode: &Mode, color: ColorChoice) -> Finished {
    match execute_inner(args, mode, color).await {
        Ok(f) => f,
        Err(code) => stop(code),
    }
}

async fn execute_inner(args: &RunArgs, mode: &Mode, color: ColorChoice) -> Result<Finished, u8> {
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
        return Err(fail(
            "the playbook has errors; nothing was changed",
            Some("check it with `remedy validate`"),
        ));
    };
    if errors > 0 {
        return Err(fail(
            format!(
                "{errors} problem{} in the input; nothing was changed",
                if errors == 1 { "" } else { "s" }
            ),
            Some("fix them (`remedy validate PLAYBOOK --users CSV` shows the same list)"),
        ));
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
        return Err(exit_code::GUARD);
    }
    if let Some(shard) = args.shard {
        users = match shard.count_rows(&args.users, &csv_name, &playbook.input.key) {
            Ok(n) => n,
            Err(e) => return Err(fail(e, None)),
        };
        eprintln!("shard {shard}: {users} of the CSV's {csv_rows} users");
    }
    let playbook = Arc::new(playbook);
    let (pb_hash, csv_hash) = match (
        rundir::sha256_file(&args.playbook),
        rundir::sha256_file(&args.users),
    ) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            return Err(fail(format!("cannot read the inputs: {e}"), None));
        }
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
            Err(e) => return Err(fail(format!("cannot start the emulator: {e}"), None)),
        }
    } else {
        match args.graph.connect() {
            Ok(c) => c,
            Err(e) => return Err(fail(&e, e.hint().as_deref())),
        }
    };
    let token = match client.tokens().token().await {
        Ok(t) => t,
        Err(e) => {
            return Err(fail(
                format!("cannot get an access token: {e}"),
                e.hint().as_deref(),
            ));
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
        return Err(exit_code::GUARD);
    }

    // A saved plan must still hold: same inputs, same tenant, not too old.
    if let Mode::Apply { plan, max_age, .. } = mode {
        let binding = Binding {
            playbook_sha256: &pb_hash,
            csv_sha256: &csv_hash,
            tenant: tid.as_deref(),
            now: time::OffsetDateTime::now_utc(),
            max_age: *max_age,
        };
        if let Err(e) = crate::plan::refuse_stale(&plan.header, &binding) {
            eprintln!("error: {e}; nothing was changed");
            eprintln!("  hint: {}", e.hint());
            return Err(if e.is_stale() {
                exit_code::GUARD
            } else {
                exit_code::USAGE
            });
        }
    }
    if args.no_preflight {
        eprintln!("note: permission preflight skipped (--no-preflight)");
    } else {
        super::run_setup::preflight(token.claims.as_ref(), &playbook, args.dry_run)?;
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
        Err(e) => return Err(fail(&e, Some(e.hint()))),
    };
    let (run_dir, replay, saved_passwords, started) = match &args.resume {
        Some(id) => prepare_resume(
            &state,
            id,
            &pb_hash,
            &csv_hash,
            args.dry_run,
            plan_sha(mode),
            args.shard,
        )?,
        None => match state.new_run() {
            Ok(r) => (r, None, HashMap::new(), rundir::now_rfc3339()),
            Err(e) => return Err(fail(&e, Some(e.hint()))),
        },
    };
    if args.resume.is_none() {
        // The playbook travels with the run (for `remedy verify`), and an
        // apply names its plan before anything can change.
        let copied = std::fs::copy(&args.playbook, run_dir.path.join("playbook.yaml"));
        let marked = plan_sha(mode).map_or(Ok(()), |sha| {
            std::fs::write(applied_plan(&run_dir), format!("{sha}\n"))
        });
        if let Err(e) = copied.and(marked) {
            return Err(fail(
                format!("cannot write to {}: {e}", run_dir.path.display()),
                None,
            ));
        }
    }
    let already_done = replay.as_ref().map_or(0, |r| r.done.len() as u64);

    // 4. Confirm before the first change.
    if let Mode::Apply { plan, file, .. } = mode {
        eprintln!(
            "applying plan {} (made {} by run {}): {} changes for {} users; nothing else is changed",
            file.display(),
            plan.header.created,
            plan.header.run_id,
            plan.end.changes,
            plan.end.would_change
        );
    }
    if args.dry_run {
        eprintln!("DRY RUN: reading live state; nothing will be changed");
    } else if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(fail(
                "stdin is not a terminal, so remedy cannot ask for confirmation; nothing was changed",
                Some("pass --yes to confirm non-interactively (after a --dry-run)"),
            ));
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
            return Err(exit_code::USAGE);
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
        return Err(fail(
            format!("cannot write {}: {e}", run_dir.manifest().display()),
            None,
        ));
    }
    let journal = match open_journal(&run_dir, &playbook, &manifest, replay.is_some()) {
        Ok(j) => j,
        Err(e) => {
            return Err(fail(
                format!("cannot open the journal in {}: {e}", run_dir.path.display()),
                None,
            ));
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
        .send
        .concurrency
        .or(playbook.settings.concurrency)
        .unwrap_or(DEFAULT_CONCURRENCY) as usize;
    let batch = !args.send.no_batch && playbook.settings.batch.unwrap_or(true);
    let send = SendOptions {
        concurrency,
        batch,
        max_rate: args.send.max_rate.or(playbook.settings.max_rate),
    };
    let verify_client = client.clone();
    let target = GraphDirectory::target_of(&client, tid.clone(), manifest.app_id.clone());
    let directory = crate::directory::Directory::Graph(GraphDirectory::new(client, send, target));
    let users_in_flight = directory.users_in_flight();
    let engine_mode = match mode {
        Mode::Run if args.dry_run => engine::Mode::DryRun { plan: None },
        Mode::Run => engine::Mode::Live,
        Mode::Plan { out } => {
            let header = plan_header(&manifest, &playbook);
            engine::Mode::DryRun {
                plan: Some(PlanWriter::create(out, &header).map_err(|e| {
                    fail(
                        format!("cannot write the plan {}: {e}", out.display()),
                        None,
                    )
                })?),
            }
        }
        Mode::Apply { plan, .. } => engine::Mode::Apply(plan.clone()),
    };
    let cx = match Context::new(
        directory,
        playbook.clone(),
        Some(journal),
        engine_mode,
        saved_passwords,
        events_tx.clone(),
    ) {
        Ok(cx) => cx,
        Err(e) => {
            return Err(fail(
                format!("a `when` condition does not compile: {e}"),
                None,
            ));
        }
    };
    let cx = Arc::new(cx);
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

    // 7. Close the journal (and the plan), then report from it.
    let (journal, plan_writer) = Arc::into_inner(cx).map_or((None, None), Context::finish);
    let journal_ok = match journal.map(Journal::close) {
        Some(Err(e)) => {
            eprintln!("error: the journal could not be completed: {e}");
            false
        }
        _ => true,
    };
    let complete = totals.stopped.is_none() && reader_result.is_ok();
    let mut plan_ok = true;
    let plan_end = match (plan_writer, mode) {
        (Some(w), Mode::Plan { out }) if complete => match w.finish() {
            Ok(end) => Some(end),
            Err(e) => {
                eprintln!("error: cannot write the plan {}: {e}", out.display());
                plan_ok = false;
                None
            }
        },
        (Some(w), _) => {
            w.abandon();
            None
        }
        (None, Mode::Plan { out }) => {
            eprintln!("error: the plan {} could not be completed", out.display());
            plan_ok = false;
            None
        }
        (None, _) => None,
    };
    let _ = progress.await;
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
    if let (Some(end), Mode::Plan { out }) = (&plan_end, mode) {
        print!("{}", super::plan::summary(end, out));
        let _ = std::io::stdout().flush();
    }
    let drifted = match mode {
        Mode::Apply { .. } => super::apply::report_drift(&run_dir.journal()),
        _ => 0,
    };
    let verify_code = if args.verify && complete {
        Some(
            super::verify::verify_after_run(
                &verify_client,
                &run_dir,
                &playbook,
                concurrency,
                batch,
            )
            .await,
        )
    } else {
        None
    };
    if let Some(emu) = emulator.take() {
        emu.shutdown().await;
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
        return Err(exit_code::USAGE);
    }
    let code = match totals.stopped {
        Some(Stopped::Interrupted) => {
            let again = match mode {
                Mode::Apply { file, .. } => format!("remedy apply {}", file.display()),
                _ => format!(
                    "remedy run {} --users {}",
                    args.playbook.display(),
                    args.users.display()
                ),
            };
            eprintln!("interrupted: resume with `{again} --resume {}`", run_dir.id);
            exit_code::INTERRUPTED
        }
        Some(Stopped::Guard(reason)) => {
            eprintln!("stopped by a guard: {reason}");
            exit_code::GUARD
        }
        None if !journal_ok || !plan_ok => exit_code::PROBLEMS,
        // A plan records users that do not exist; only other failures are
        // errors of the plan.
        None if matches!(mode, Mode::Plan { .. }) => {
            if plan_end.as_ref().is_some_and(|e| e.failed > 0) {
                exit_code::PROBLEMS
            } else {
                exit_code::OK
            }
        }
        None if totals.failed > 0 || drifted > 0 => exit_code::PROBLEMS,
        None => verify_code.unwrap_or(exit_code::OK),
    };
    Ok(Finished {
        code,
        plan: plan_end,
    })
}
