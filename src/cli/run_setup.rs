//! The parts of `remedy run` (and of `plan` and `apply`, which share its
//! machinery) around the engine: the in-process emulator, the tenant pin,
//! resuming, the journal, the confirmation prompt, signals, and the CSV
//! reader thread.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;
use tokio::sync::mpsc;

use crate::engine::{Row, RunEvent, StopSignal};
use crate::exit_code;
use crate::graph::GraphClient;
use crate::graph::auth::{Credential, TokenClaims, TokenProvider};
use crate::graph::client::{ClientOptions, http_client};
use crate::graph::cloud::{Cloud, Endpoints};
use crate::graph::preflight;
use crate::input::{self, UserReader};
use crate::journal::{self, Header, Journal, Record, Replay};
use crate::playbook::Playbook;
use crate::rundir::{Manifest, RunDir, RunStatus, StateDir};
use crate::secrets::SecretsFile;
use crate::shard::Shard;

use super::run::fail;

/// Starts the in-process emulator seeded from the CSV, and a client for it.
pub(super) async fn start_emulator(
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
pub(super) async fn check_tenant(
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

pub(super) type Prepared = (
    RunDir,
    Option<Replay>,
    HashMap<String, SecretString>,
    String,
);

pub(super) fn prepare_resume(
    state: &StateDir,
    id: &str,
    pb_hash: &str,
    csv_hash: &str,
    dry_run: bool,
    plan_sha: Option<&str>,
    shard: Option<Shard>,
) -> Result<Prepared, u8> {
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
    // A run that applies a plan resumes only as an apply of that plan, so
    // that a resume can never do more than the plan said.
    let applied = std::fs::read_to_string(applied_plan(&run)).ok();
    match (applied.as_deref().map(str::trim), plan_sha) {
        (None, None) => {}
        (Some(a), Some(p)) if a == p => {}
        (Some(_), None) => {
            return Err(fail(
                format!(
                    "run {} applies a plan; `remedy run --resume` would do more than the plan",
                    run.id
                ),
                Some("resume it with `remedy apply PLAN --resume RUN`, with the same plan file"),
            ));
        }
        (_, Some(_)) => {
            return Err(fail(
                format!(
                    "run {} did not apply this plan file; refusing to resume",
                    run.id
                ),
                Some("resume with the plan file the run started with, or apply without --resume"),
            ));
        }
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
    if m.shard != shard {
        let shown = |s: Option<Shard>| {
            s.map_or_else(|| "the whole CSV".to_owned(), |s| format!("shard {s}"))
        };
        return Err(fail(
            format!(
                "run {} covered {}, not {}; refusing to resume",
                run.id,
                shown(m.shard),
                shown(shard)
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

/// The file in a run directory naming the plan (its SHA-256) the run
/// applies; absent for plain runs.
pub(super) fn applied_plan(run: &RunDir) -> PathBuf {
    run.path.join("applied-plan.sha256")
}

pub(super) fn open_journal(
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

pub(super) fn confirmation_text(
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
        let scope = step.kind.kind().scope();
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

pub(super) fn confirmed() -> bool {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line).is_ok()
        && matches!(line.trim(), "y" | "Y" | "yes" | "YES" | "Yes")
}

/// First Ctrl-C/SIGTERM: stop scheduling and let in-flight users finish.
/// Second: exit now (the journal stays consistent: a torn last line is cut
/// on resume).
pub(super) fn watch_signals(
    stop: StopSignal,
    events: mpsc::UnboundedSender<RunEvent>,
    run_id: String,
) {
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
pub(super) fn spawn_reader(
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

/// The permission preflight: every Graph operation the run performs must
/// be granted by the token's `roles`, checked before anything changes. A
/// dry run needs only reads, and is warned about what applying would lack.
pub(super) fn preflight(
    claims: Option<&TokenClaims>,
    playbook: &Playbook,
    dry_run: bool,
) -> Result<(), u8> {
    let Some(claims) = claims else {
        eprintln!(
            "note: the access token is not a JWT (opaque), so its permissions cannot be read; permission preflight skipped"
        );
        return Ok(());
    };
    let missing = preflight::missing(playbook, !dry_run, &claims.roles);
    if !missing.is_empty() {
        eprintln!(
            "error: the access token lacks Graph permissions this run needs; nothing was changed"
        );
        for m in &missing {
            eprintln!("  {}", m.describe());
        }
        eprintln!(
            "  hint: grant these application permissions to the app (with admin consent), then run again; `remedy doctor` shows what the token carries"
        );
        return Err(exit_code::USAGE);
    }
    if dry_run {
        for m in preflight::missing(playbook, true, &claims.roles) {
            eprintln!("warning: a real run would be refused: {}", m.describe());
        }
    }
    Ok(())
}
