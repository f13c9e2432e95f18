//! Resuming: whether an earlier run may be continued with these inputs
//! and this purpose (never a dry run, an apply only with its own plan, the
//! same playbook, CSV and shard), and what it left behind (the journal
//! replayed, torn last lines cut, the saved passwords of users whose
//! intent is pending).

use std::collections::HashMap;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::journal::Replay;
use crate::rundir::{RunDir, RunStatus, StateDir};
use crate::secrets::SecretsFile;
use crate::session::error::{SessionError, cannot};
use crate::session::ui::{Notice, Ui};
use crate::shard::Shard;

/// The file in a run directory naming the plan (its SHA-256) the run
/// applies; absent for plain runs.
pub(super) fn applied_plan(run: &RunDir) -> PathBuf {
    run.path.join("applied-plan.sha256")
}

/// What the resumed run is bound to and asked to do.
pub(super) struct Resume<'a> {
    pub id: &'a str,
    pub playbook_sha256: &'a str,
    pub csv_sha256: &'a str,
    pub dry_run: bool,
    /// The SHA-256 of the plan an apply carries out.
    pub plan_sha256: Option<&'a str>,
    pub shard: Option<Shard>,
}

/// An earlier run, ready to be continued.
pub(super) struct Resumed {
    pub run: RunDir,
    pub replay: Replay,
    pub saved_passwords: HashMap<String, SecretString>,
    /// When the run first started.
    pub started: String,
}

/// Either a run to continue, or one that already completed.
pub(super) enum Found {
    Resume(Box<Resumed>),
    Completed {
        run: RunDir,
        users: u64,
        failed: u64,
    },
}

fn refuse(message: String, hint: &'static str) -> SessionError {
    SessionError::Resume { message, hint }
}

pub(super) fn prepare(
    state: &StateDir,
    r: &Resume<'_>,
    ui: &dyn Ui,
) -> Result<Found, SessionError> {
    let run = state.find_run((!r.id.is_empty()).then_some(r.id))?;
    let m = run
        .read_manifest()
        .map_err(|e| cannot("read", &run.manifest(), e))?;
    if m.dry_run || r.dry_run {
        return Err(refuse(
            format!(
                "run {} {}",
                run.id,
                if m.dry_run {
                    "was a dry run; there is nothing to resume"
                } else {
                    "cannot be resumed as a dry run"
                }
            ),
            "start a new run without --resume",
        ));
    }
    // A run that applies a plan resumes only as an apply of that plan, so
    // that a resume can never do more than the plan said.
    let applied = std::fs::read_to_string(applied_plan(&run)).ok();
    match (applied.as_deref().map(str::trim), r.plan_sha256) {
        (None, None) => {}
        (Some(a), Some(p)) if a == p => {}
        (Some(_), None) => {
            return Err(refuse(
                format!(
                    "run {} applies a plan; `remedy run --resume` would do more than the plan",
                    run.id
                ),
                "resume it with `remedy apply PLAN --resume RUN`, with the same plan file",
            ));
        }
        (_, Some(_)) => {
            return Err(refuse(
                format!(
                    "run {} did not apply this plan file; refusing to resume",
                    run.id
                ),
                "resume with the plan file the run started with, or apply without --resume",
            ));
        }
    }
    if m.inputs.playbook_sha256 != r.playbook_sha256 {
        return Err(refuse(
            format!(
                "the playbook changed since run {} started (SHA-256 differs); refusing to resume",
                run.id
            ),
            "resume with the exact playbook the run started with, or start a new run",
        ));
    }
    if m.shard != r.shard {
        let shown = |s: Option<Shard>| {
            s.map_or_else(|| "the whole CSV".to_owned(), |s| format!("shard {s}"))
        };
        return Err(refuse(
            format!(
                "run {} covered {}, not {}; refusing to resume",
                run.id,
                shown(m.shard),
                shown(r.shard)
            ),
            "resume with the --shard the run started with (`remedy runs` shows it)",
        ));
    }
    if m.inputs.csv_sha256 != r.csv_sha256 {
        return Err(refuse(
            format!(
                "the CSV changed since run {} started (SHA-256 differs); refusing to resume",
                run.id
            ),
            "resume with the exact CSV the run started with, or start a new run",
        ));
    }
    if m.status == RunStatus::Completed {
        // Every user has a final outcome: nothing to replay or send.
        return Ok(Found::Completed {
            run,
            users: m.counts.users,
            failed: m.counts.failed,
        });
    }
    // A saved password is read back and appended to: the file must be the
    // one remedy created, checked before anything is repaired or read.
    let secrets = run.secrets();
    if secrets.symlink_metadata().is_ok()
        && let Err(e) = SecretsFile::check_private(&secrets)
    {
        return Err(refuse(
            format!(
                "cannot resume run {}: {} is unsafe to use: {e}; nothing was changed",
                run.id,
                secrets.display()
            ),
            "secrets.csv must be the regular file remedy created, mode 0600; find out who changed it before resuming",
        ));
    }
    let replay = Replay::read(&run.journal()).map_err(|e| SessionError::Resume {
        message: e.to_string(),
        hint: "the run's journal is damaged; inspect it before starting a new run",
    })?;
    if replay.truncated_bytes > 0 {
        ui.notice(Notice::TornJournal {
            bytes: replay.truncated_bytes,
        });
    }
    let saved_passwords = if run.secrets().exists() {
        let cut = SecretsFile::cut_torn_tail(&run.secrets())
            .map_err(|e| cannot("repair", &run.secrets(), e))?;
        if cut > 0 {
            ui.notice(Notice::TornSecrets { bytes: cut });
        }
        // Only users with an intent pending need their saved password.
        SecretsFile::read_for(&run.secrets(), |user| {
            replay
                .partial
                .get(user)
                .is_some_and(|p| !p.pending.is_empty())
        })
        .map_err(|e| cannot("read", &run.secrets(), e))?
    } else {
        HashMap::new()
    };
    ui.notice(Notice::Resuming {
        run_id: run.id.clone(),
        done: replay.done.len(),
    });
    Ok(Found::Resume(Box::new(Resumed {
        run,
        replay,
        saved_passwords,
        started: m.started,
    })))
}
