//! Resuming: whether an earlier run may be continued with these inputs
//! and this purpose (never a dry run, an apply only with its own plan, the
//! same playbook, CSV and shard), and what it left behind (the journal
//! replayed, torn last lines cut, the saved passwords of users whose
//! intent is pending).

use std::collections::HashMap;
use std::path::PathBuf;

use secrecy::SecretString;

use crate::directory::Target;
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

/// Where the state directory records which run applies the plan whose
/// SHA-256 is `sha`: `applied/<sha>`, holding the run id.
fn applied_record(state: &StateDir, sha: &str) -> PathBuf {
    state.path.join("applied").join(sha)
}

/// The run of this state directory that applied (or is applying) the plan
/// whose SHA-256 is `sha`: the one the record names or, for applies of
/// earlier versions, a run directory marked with that plan and holding a
/// manifest (so it went past its confirmation).
pub(super) fn applied_by(state: &StateDir, sha: &str) -> Option<RunDir> {
    if let Ok(id) = std::fs::read_to_string(applied_record(state, sha))
        && let Ok(run) = state.find_run(Some(id.trim()))
    {
        return Some(run);
    }
    state
        .runs()
        .ok()?
        .into_iter()
        .rev()
        .find(|run| std::fs::read_to_string(applied_plan(run)).is_ok_and(|a| a.trim() == sha))
}

/// Records, before its first change, that `run` applies the plan `sha`,
/// so that the plan is never applied by another run (durable: written,
/// fsynced, renamed into place).
pub(super) fn record_applied(state: &StateDir, sha: &str, run: &RunDir) -> std::io::Result<()> {
    use std::io::Write;
    let path = applied_record(state, sha);
    if path.exists() {
        return Ok(());
    }
    let dir = state.path.join("applied");
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(&dir)?;
    let tmp = dir.join(format!("{sha}.tmp"));
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(format!("{}\n", run.id).as_bytes())?;
    f.sync_all()?;
    std::fs::rename(&tmp, &path)?;
    std::fs::File::open(&dir)?.sync_all()
}

/// The refusal of a plan that `run` applied already.
pub(super) fn already_applied(file: &std::path::Path, run: &RunDir) -> SessionError {
    let status = run.read_manifest().map(|m| m.status);
    SessionError::Plan(crate::plan::PlanError::AlreadyApplied {
        file: file.display().to_string(),
        run: run.id.clone(),
        status: status
            .as_ref()
            .ok()
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_else(|| "unknown".to_owned()),
        resumable: status.is_ok_and(|s| s != RunStatus::Completed),
    })
}

/// What the resumed run is bound to and asked to do.
pub(super) struct Resume<'a> {
    pub id: &'a str,
    pub playbook_sha256: &'a str,
    pub csv_sha256: &'a str,
    pub dry_run: bool,
    /// The SHA-256 of the plan an apply carries out, and its file.
    pub plan_sha256: Option<&'a str>,
    pub plan_file: Option<&'a std::path::Path>,
    pub shard: Option<Shard>,
    /// The directory this invocation is connected to.
    /// The connection's targets, in the playbook's order.
    pub targets: &'a [Target],
    /// Whether it is the in-process emulator (whose address changes with
    /// every start).
    pub emulated: bool,
}

/// An earlier run, ready to be continued.
pub(super) struct Resumed {
    pub run: RunDir,
    pub replay: Replay,
    pub saved_passwords: HashMap<String, SecretString>,
    /// When the run first started.
    pub started: String,
    /// The traffic its earlier attempts recorded.
    pub traffic: Option<crate::rundir::RunTraffic>,
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

/// Why the run recorded against `ran` cannot be continued against the
/// directory `r` is connected to: another tenant (the token's tenant id)
/// or another service root. What the manifest does not record (older
/// files) is not compared; the in-process emulator's address changes with
/// every start, so only its tenant is.
fn other_target(
    id: &str,
    ran: &Target,
    ran_emulated: bool,
    now: &Target,
    emulated: bool,
) -> Option<String> {
    let realm = if ran.provider == "active_directory" {
        "domain"
    } else {
        "tenant"
    };
    if let Some(was) = ran.realm.as_deref() {
        let is = now.realm.as_deref();
        if !is.is_some_and(|is| is.eq_ignore_ascii_case(was)) {
            return Some(format!(
                "run {id} changed {realm} {was}, but the credentials are for {}; refusing to resume",
                is.map_or_else(
                    || format!("a {realm} the credentials do not name"),
                    |t| format!("{realm} {t}")
                )
            ));
        }
    }
    let root = |e: &str| e.trim_end_matches('/').to_ascii_lowercase();
    let both_emulated = ran_emulated && emulated && ran.provider == "graph";
    if !ran.endpoint.is_empty() && !both_emulated && root(&ran.endpoint) != root(&now.endpoint) {
        return Some(format!(
            "run {id} talked to {}, but this connection is to {}; refusing to resume",
            ran.endpoint, now.endpoint
        ));
    }
    None
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
    for (ran, now) in m.all_targets().iter().zip(r.targets) {
        if let Some(message) = other_target(&run.id, ran, m.emulated, now, r.emulated) {
            return Err(SessionError::ResumeTarget { message });
        }
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
    // A plan is applied by one run only: resuming another run that
    // applies it would apply it twice.
    if let (Some(sha), Some(file)) = (r.plan_sha256, r.plan_file)
        && let Some(by) = applied_by(state, sha)
        && by.id != run.id
    {
        return Err(already_applied(file, &by));
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
        traffic: m.traffic,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(endpoint: &str, realm: Option<&str>) -> Target {
        Target {
            provider: "graph".into(),
            endpoint: endpoint.into(),
            realm: realm.map(str::to_owned),
            principal: None,
            name: None,
        }
    }

    #[test]
    fn another_tenant_or_graph_root_is_another_run() {
        let g = "https://graph.microsoft.com";
        let ran = target(g, Some("tid-a"));
        let same = target("https://graph.microsoft.com/", Some("TID-A"));
        assert_eq!(other_target("r", &ran, false, &same, false), None);
        let tenant = target(g, Some("tid-b"));
        let why = other_target("r", &ran, false, &tenant, false).unwrap();
        assert!(why.contains("changed tenant tid-a, but the credentials are for tenant tid-b"));
        let unnamed = target(g, None);
        assert!(other_target("r", &ran, false, &unnamed, false).is_some());
        let root = target("https://graph.microsoft.us", Some("tid-a"));
        let why = other_target("r", &ran, false, &root, false).unwrap();
        assert!(why.contains("talked to https://graph.microsoft.com, but this connection is to https://graph.microsoft.us"));
        // The in-process emulator moves with every start; its tenant does not.
        let emu = target("http://127.0.0.1:1", Some("tid-a"));
        let emu_again = target("http://127.0.0.1:2", Some("tid-a"));
        assert_eq!(other_target("r", &emu, true, &emu_again, true), None);
        assert!(other_target("r", &emu, false, &emu_again, false).is_some());
        // Older manifests that did not record the tenant or root.
        let old = target("", None);
        assert_eq!(other_target("r", &old, false, &tenant, false), None);
    }
}
