//! Running a prepared session: the confirmation before the first change,
//! the manifest and the journal, the engine over the CSV's rows, then the
//! reports rebuilt from the journal, the plan's end, the drift list of an
//! apply and the verify pass, each told to the [`Ui`] as it happens.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

use crate::directory::Directory;
use crate::directory::{Recorded, Target};
use crate::engine::{self, Context, RunEvent, Stopped};
use crate::graph::SendOptions;
use crate::journal::{Header, Journal, Record, StepStatus};
use crate::operator::Operator;
use crate::plan::{PlanHeader, PlanStepInfo, PlanWriter};
use crate::playbook::Playbook;
use crate::report::progress;
use crate::rundir::{self, Counts, Inputs, Manifest, RunDir, RunStatus, RunTraffic, StepInfo};
use crate::secrets::SecretsFile;
use crate::session::config::{Purpose, RunConfig};
use crate::session::drift::drifted_users;
use crate::session::error::{SessionError, cannot};
use crate::session::outcome::{Ended, Outcome, Ran};
use crate::session::prepare::{Prepared, Ready, prepare};
use crate::session::reader::{spawn_reader, watch_signals};
use crate::session::ui::{Confirmation, Notice, Ui};
use crate::session::verify::verify_run_dir;

/// Runs `config` to its end.
pub async fn run(config: &RunConfig, ui: Arc<dyn Ui>) -> Result<Outcome, SessionError> {
    let p = match prepare(config, ui.as_ref()).await? {
        Ready::Completed { run, users, failed } => {
            ui.notice(Notice::AlreadyCompleted {
                run_id: run.id.clone(),
                users,
                failed,
                path: run.path.clone(),
            });
            return Ok(Outcome::AlreadyCompleted { failed });
        }
        Ready::Run(p) => p,
    };
    execute(config, *p, ui).await
}

async fn execute(
    config: &RunConfig,
    p: Prepared,
    ui: Arc<dyn Ui>,
) -> Result<Outcome, SessionError> {
    let dry_run = config.purpose.is_dry_run();
    let targets = p.connected.targets(&p.playbook);
    let already_done = p.replay.as_ref().map_or(0, |r| r.done.len() as u64);

    // 4. Confirm before the first change.
    if let Some(plan) = &p.plan {
        ui.notice(Notice::Applying {
            file: plan.file.clone(),
            created: plan.index.header.created.clone(),
            run_id: plan.index.header.run_id.clone(),
            changes: plan.index.end.changes,
            users: plan.index.end.would_change,
        });
    }
    if dry_run {
        ui.notice(Notice::DryRun);
    } else if !config.yes {
        if !ui.can_ask() {
            return Err(SessionError::NoTerminal);
        }
        let csv = config.shard.map_or_else(
            || p.inputs.csv_name.clone(),
            |s| {
                format!(
                    "{}, shard {s} of its {} rows",
                    p.inputs.csv_name, p.csv_rows
                )
            },
        );
        let text = confirmation_text(&p.playbook, p.users, already_done, &targets, &csv);
        if !ui.confirm(&Confirmation { text }) {
            return Err(SessionError::Declined);
        }
    }

    // 5. The plan's apply record, the manifest and the journal.
    if let Some(plan) = &p.plan {
        crate::session::resume::record_applied(&p.state, &plan.sha256, &p.run)
            .map_err(|e| cannot("record the apply in", &p.state.path, e))?;
    }
    let mut manifest = Manifest {
        run_id: p.run.id.clone(),
        remedy_version: env!("CARGO_PKG_VERSION").to_owned(),
        operator: Operator::current(),
        inputs: Inputs {
            playbook_name: p.playbook.name.clone(),
            playbook_file: p.inputs.playbook_name.clone(),
            playbook_sha256: p.inputs.playbook_sha256.clone(),
            csv_file: p.inputs.csv_name.clone(),
            csv_sha256: p.inputs.csv_sha256.clone(),
        },
        target: Recorded(targets[0].clone()),
        targets: if targets.len() > 1 {
            targets.clone()
        } else {
            Vec::new()
        },
        emulated: p.connected.emulator.is_some(),
        dry_run,
        shard: config.shard,
        steps: p
            .playbook
            .steps
            .iter()
            .map(|s| StepInfo {
                id: s.id.clone(),
                title: s.title().to_owned(),
            })
            .collect(),
        started: p.started.clone(),
        finished: None,
        status: RunStatus::Running,
        counts: Counts {
            users: p.users,
            csv_rows: p.csv_rows,
            ..Counts::default()
        },
        // Kept while this attempt runs, so a kill loses only its own.
        traffic: p.earlier_traffic.clone(),
    };
    // This attempt's duration runs from here to the manifest's `finished`.
    let attempt_started = std::time::Instant::now();
    p.run
        .write_manifest(&manifest)
        .map_err(|e| cannot("write", &p.run.manifest(), e))?;
    let journal = open_journal(&p.run, &p.playbook, &manifest, p.replay.is_some())
        .map_err(|e| cannot("open the journal in", &p.run.path, e))?;
    tracing::info!(run_id = %p.run.id, dry_run, resumed = p.replay.is_some(), "run started");

    // 6. Run.
    let (events_tx, events_rx) = mpsc::unbounded_channel();
    let titles: Vec<String> = p
        .playbook
        .steps
        .iter()
        .map(|s| s.title().to_owned())
        .collect();
    let display = progress::spawn(
        config.progress,
        titles,
        dry_run,
        Duration::from_secs(2),
        config.color,
        events_rx,
    );
    let _ = events_tx.send(RunEvent::Total {
        users: p.users,
        already_done,
    });
    let send = config.send.resolve(&p.playbook);
    let directories = p.connected.directories(&p.playbook, send);
    let users_in_flight = directories
        .iter()
        .map(Directory::users_in_flight)
        .max()
        .unwrap_or(1);
    let mode = match (&config.purpose, &p.plan) {
        (Purpose::Apply { .. }, Some(plan)) => engine::Mode::Apply(plan.index.clone()),
        (Purpose::Plan { out }, _) => {
            let header = plan_header(&manifest, &p.playbook);
            let writer =
                PlanWriter::create(out, &header).map_err(|e| cannot("write the plan", out, e))?;
            engine::Mode::DryRun { plan: Some(writer) }
        }
        _ if dry_run => engine::Mode::DryRun { plan: None },
        _ => engine::Mode::Live,
    };
    let cx = Context::new(
        directories,
        p.playbook.clone(),
        Some(journal),
        mode,
        p.saved_passwords,
        events_tx.clone(),
    );
    let cx = Arc::new(cx);
    let stop = cx.stop.clone();
    watch_signals(stop.clone(), &events_tx, p.run.id.clone(), ui.clone());
    drop(events_tx);
    let (rows_tx, rows_rx) = mpsc::channel(users_in_flight * 2 + 16);
    let reader = spawn_reader(
        p.inputs.users.clone(),
        p.inputs.csv_name.clone(),
        p.playbook.clone(),
        config.shard,
        rows_tx,
    );
    let totals = engine::drive(
        cx.clone(),
        rows_rx,
        p.replay.map(Arc::new),
        users_in_flight,
        p.users,
        p.playbook.guards.max_failures,
        stop,
    )
    .await;
    let reader_result = reader
        .join()
        .unwrap_or_else(|_| Err("the CSV reader stopped unexpectedly".into()));

    // 7. Close the journal (and the plan), then report from it.
    let (journal, plan_writer) = Arc::into_inner(cx).map_or((None, None), Context::finish);
    let mut incomplete_record = false;
    if let Some(Err(e)) = journal.map(Journal::close) {
        ui.notice(Notice::Error(format!(
            "the journal could not be completed: {e}"
        )));
        incomplete_record = true;
    }
    let complete = totals.stopped.is_none() && reader_result.is_ok();
    let plan_end = match (plan_writer, &config.purpose) {
        (Some(w), Purpose::Plan { out }) if complete => match w.finish() {
            Ok(end) => Some(end),
            Err(e) => {
                ui.notice(Notice::Error(format!(
                    "cannot write the plan {}: {e}",
                    out.display()
                )));
                incomplete_record = true;
                None
            }
        },
        (Some(w), _) => {
            w.abandon();
            None
        }
        (None, Purpose::Plan { out }) => {
            ui.notice(Notice::Error(format!(
                "the plan {} could not be completed",
                out.display()
            )));
            incomplete_record = true;
            None
        }
        (None, _) => None,
    };
    let _ = display.await;
    manifest.finished = Some(rundir::now_rfc3339());
    manifest.status = match &totals.stopped {
        Some(Stopped::Guard(_)) => RunStatus::StoppedByGuard,
        Some(Stopped::Interrupted) => RunStatus::Interrupted,
        None => RunStatus::Completed,
    };
    manifest.counts = Counts {
        users: p.users,
        csv_rows: p.csv_rows,
        processed: totals.processed,
        failed: totals.failed,
        done_earlier: totals.done_earlier,
    };
    manifest.traffic = Some(
        RunTraffic::attempt(attempt_started.elapsed(), &totals.traffic, totals.paused)
            .after(p.earlier_traffic.as_ref()),
    );
    tracing::info!(
        run_id = %p.run.id,
        status = ?manifest.status,
        processed = totals.processed,
        failed = totals.failed,
        done_earlier = totals.done_earlier,
        calls = totals.traffic.calls,
        answered = totals.traffic.answered,
        throttled = totals.traffic.throttled,
        paused_ms = u64::try_from(totals.paused.as_millis()).unwrap_or(u64::MAX),
        "run finished"
    );
    if let Err(e) = p.run.write_manifest(&manifest) {
        ui.notice(Notice::Warning(format!(
            "cannot update {}: {e}",
            p.run.manifest().display()
        )));
    }
    write_reports(config, &p.run, &manifest, &p.playbook, ui.as_ref());
    if let (Some(end), Purpose::Plan { out }) = (&plan_end, &config.purpose) {
        ui.notice(Notice::PlanSaved {
            end: end.clone(),
            out: out.clone(),
        });
    }
    let drifted = match &config.purpose {
        Purpose::Apply { .. } => drifted_users(&p.run.journal(), ui.as_ref()),
        _ => 0,
    };
    let verify = if config.verify && complete {
        let directories = p.connected.directories(
            &p.playbook,
            SendOptions {
                max_rate: None,
                ..send
            },
        );
        Some(verify_run_dir(&directories, &p.run, &p.playbook, ui.as_ref()).await)
    } else {
        None
    };
    if let Some(emu) = p.connected.emulator {
        emu.shutdown().await;
    }
    ui.notice(Notice::Recorded {
        run_id: p.run.id.clone(),
        path: p.run.path.clone(),
    });
    if p.run.secrets().exists() {
        ui.notice(Notice::Secrets {
            path: p.run.secrets(),
            not_set: unset_passwords(&p.run.journal(), &p.playbook),
        });
    }
    let reader_failed = match reader_result {
        Err(e) => {
            ui.notice(Notice::Error(e));
            true
        }
        Ok(()) => false,
    };
    let ended = match totals.stopped {
        Some(Stopped::Interrupted) => Ended::Interrupted,
        Some(Stopped::Guard(reason)) => Ended::StoppedByGuard(reason),
        None => Ended::Completed,
    };
    if !reader_failed {
        match &ended {
            Ended::Interrupted => ui.notice(Notice::Interrupted {
                again: again(
                    config,
                    &p.inputs.playbook,
                    &p.inputs.users,
                    p.plan.as_ref().map(|x| &x.file),
                ),
                run_id: p.run.id.clone(),
            }),
            Ended::StoppedByGuard(reason) => ui.notice(Notice::GuardStopped {
                reason: reason.clone(),
            }),
            Ended::Completed => {}
        }
    }
    drop(p.state);
    Ok(Outcome::Ran(Ran {
        ended,
        is_plan: matches!(config.purpose, Purpose::Plan { .. }),
        failed: totals.failed,
        incomplete_record,
        reader_failed,
        plan: plan_end,
        drifted,
        verify,
    }))
}

/// The command that resumes an interrupted run.
fn again(
    config: &RunConfig,
    playbook: &std::path::Path,
    users: &std::path::Path,
    plan: Option<&std::path::PathBuf>,
) -> String {
    match (&config.purpose, plan) {
        (Purpose::Apply { .. }, Some(file)) => format!("remedy apply {}", file.display()),
        _ => format!(
            "remedy run {} --users {}",
            playbook.display(),
            users.display()
        ),
    }
}

/// The reports, rebuilt from the journal, and the end-of-run table.
fn write_reports(
    config: &RunConfig,
    run: &RunDir,
    manifest: &Manifest,
    playbook: &Playbook,
    ui: &dyn Ui,
) {
    let report_dir = config
        .report_dir
        .clone()
        .unwrap_or_else(|| run.path.clone());
    let steps: Vec<(String, String)> = manifest
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect();
    let info = crate::report::RunInfo {
        run_id: run.id.clone(),
        playbook_name: playbook.name.clone(),
        playbook_file: manifest.inputs.playbook_file.clone(),
        csv_file: manifest.inputs.csv_file.clone(),
        dry_run: manifest.dry_run,
        tenant: manifest.target.realm.clone(),
        directories: manifest.directories(),
        shard: manifest.shard.map(|s| s.to_string()),
        started: manifest.started.clone(),
        finished: manifest.finished.clone().unwrap_or_default(),
        traffic: manifest.traffic.clone(),
    };
    match crate::report::write_reports(&run.journal(), &steps, &info, &report_dir) {
        Ok(summary) => ui.notice(Notice::Table {
            summary,
            dry_run: manifest.dry_run,
        }),
        Err(e) => ui.notice(Notice::Error(format!(
            "cannot write the reports to {}: {e}",
            report_dir.display()
        ))),
    }
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
            .any(|s| s.kind.kind().generates_secrets());
    let secrets = match (generates, resumed, run.secrets().exists()) {
        (false, _, _) => None,
        (true, true, true) => Some(SecretsFile::open_append(&run.secrets())?),
        (true, _, _) => Some(SecretsFile::create(&run.secrets())?),
    };
    let j = Journal::open(&run.journal(), secrets)?;
    if !resumed {
        j.write(&Record::Header(Header::of(manifest)))?;
    }
    Ok(j)
}

/// The header of the plan a dry run writes: what it is bound to.
fn plan_header(manifest: &Manifest, playbook: &Playbook) -> PlanHeader {
    PlanHeader {
        format: crate::plan::FORMAT,
        remedy_version: manifest.remedy_version.clone(),
        created: rundir::now_rfc3339(),
        inputs: manifest.inputs.clone(),
        target: manifest.target.clone(),
        targets: manifest.targets.clone(),
        run_id: manifest.run_id.clone(),
        steps: playbook
            .steps
            .iter()
            .map(|s| PlanStepInfo {
                id: s.id.clone(),
                title: s.title().to_owned(),
                kind: s.kind.describe(),
            })
            .collect(),
    }
}

fn confirmation_text(p: &Playbook, users: u64, done: u64, targets: &[Target], csv: &str) -> String {
    let mut s = String::from("About to change accounts in ");
    let named: Vec<String> = targets.iter().map(Target::describe).collect();
    s.push_str(&named.join(" and "));
    s.push_str(":\n");
    s.push_str(&format!("  playbook  {} ({})\n", p.file, p.name));
    s.push_str(&format!("  users     {users} from {csv}"));
    if done > 0 {
        s.push_str(&format!(", {done} already done by the resumed run"));
    }
    s.push('\n');
    for (i, step) in p.steps.iter().enumerate() {
        let scope = step.kind.kind().scope();
        let on = if p.is_hybrid() {
            p.targets
                .get(step.target)
                .map_or_else(String::new, |t| format!(" on `{}`", t.name))
        } else {
            String::new()
        };
        s.push_str(&format!(
            "  step {}    {} ({}{on}): {scope}",
            i + 1,
            step.title(),
            step.kind.describe()
        ));
        if let Some(w) = &step.when {
            s.push_str(&format!(", when {}", w.text()));
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
        if p.targets
            .iter()
            .any(|t| t.provider == crate::playbook::checked::Provider::Graph)
        {
            s.push_str("  guard     privileged accounts (directory roles, role-assignable groups, restricted units, PIM eligibility) are skipped\n");
        }
        if p.targets.iter().any(|t| t.ldap.is_some()) {
            s.push_str("  guard     protected Active Directory accounts (adminCount, Domain Admins and the other protected groups, nested) are skipped\n");
        }
        if p.is_hybrid() {
            s.push_str(
                "  guard     a person protected or missing in one directory is left alone in all\n",
            );
        }
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

/// How many users' generated passwords in `secrets.csv` were never set:
/// the password is saved before the reset is sent, so a reset that then
/// failed (or was refused) leaves a line that does not sign anyone in.
/// The last outcome of each user's step counts (a resume may set it).
fn unset_passwords(journal: &std::path::Path, playbook: &Playbook) -> u64 {
    let generating: std::collections::HashSet<&str> = playbook
        .steps
        .iter()
        .filter(|s| s.kind.kind().generates_secrets())
        .map(|s| s.id.as_str())
        .collect();
    if generating.is_empty() {
        return 0;
    }
    let mut last = std::collections::HashMap::new();
    let scanned = crate::journal::for_each_record(journal, |record| {
        if let Record::Outcome {
            user, step, status, ..
        } = record
            && generating.contains(step.as_str())
        {
            last.insert(
                (crate::journal::key_hash(&user), step),
                status == StepStatus::Failed,
            );
        }
        Ok(())
    });
    if scanned.is_err() {
        return 0;
    }
    last.values().filter(|failed| **failed).count() as u64
}
