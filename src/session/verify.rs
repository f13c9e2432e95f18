//! The verify pass as a session: `remedy verify [RUN]` (the run's
//! manifest and its copy of the playbook, the connection, the tenant
//! check) and the pass that `--verify` runs after a complete run.

use std::path::{Path, PathBuf};

use crate::directory::Directory;
use crate::graph::{GraphDirectory, SendOptions};
use crate::playbook::{self, Playbook};
use crate::rundir::{self, RunDir, StateDir};
use crate::session::config::{SendOverrides, VerifyConfig};
use crate::session::connect::connect_ldap;
use crate::session::error::{SessionError, cannot};
use crate::session::outcome::VerifyOutcome;
use crate::session::ui::{Notice, Ui};
use crate::verify::verify_run;

/// `remedy verify`: reads back every account the run acted on.
pub async fn verify(config: &VerifyConfig, ui: &dyn Ui) -> Result<VerifyOutcome, SessionError> {
    let state = StateDir::open(&config.state_dir)?;
    let run = state.find_run(config.run.as_deref())?;
    let manifest = run
        .read_manifest()
        .map_err(|e| cannot("read", &run.manifest(), e))?;
    if manifest.dry_run {
        return Err(SessionError::Verify {
            message: format!("run {} was a dry run; it changed nothing to verify", run.id),
            hint: "name a run that made changes",
        });
    }
    if manifest.emulated {
        return Err(SessionError::Verify {
            message: format!(
                "run {} ran against the built-in emulator, which is gone",
                run.id
            ),
            hint: "verify emulated runs in the same invocation: `remedy run … --emulate --verify`",
        });
    }
    let copy = run.path.join("playbook.yaml");
    let pb_path = if copy.is_file() {
        copy
    } else {
        PathBuf::from(&manifest.inputs.playbook_file)
    };
    let playbook = load_playbook(&pb_path, &manifest.inputs.playbook_sha256)?;
    let send = SendOptions {
        max_rate: None,
        ..SendOverrides {
            concurrency: config.concurrency,
            no_batch: config.no_batch,
            max_rate: None,
        }
        .resolve(&playbook)
    };
    let ran = manifest.all_targets();
    let mut directories = Vec::new();
    for (i, spec) in playbook.targets.iter().enumerate() {
        let recorded = ran.get(i).cloned().unwrap_or_default();
        let directory = match &spec.ldap {
            Some(ldap) => {
                let l = connect_ldap(ldap, &config.ldap, send.concurrency).await?;
                Directory::Ldap(std::sync::Arc::new(l))
            }
            None => {
                let client = config.connect.connect()?;
                let token = client.tokens().token().await.map_err(SessionError::Token)?;
                let tid = token.claims.as_ref().and_then(|c| c.tid.clone());
                let target = GraphDirectory::target_of(&client, tid, None);
                Directory::Graph(GraphDirectory::new(client, send, target))
            }
        };
        let now = directory.target().realm.clone();
        if let (Some(ran), Some(now)) = (&recorded.realm, &now)
            && !ran.eq_ignore_ascii_case(now)
        {
            return Err(SessionError::VerifyTenant {
                run: run.id.clone(),
                realm: if spec.ldap.is_some() {
                    "domain"
                } else {
                    "tenant"
                },
                ran: ran.clone(),
                now: now.clone(),
            });
        }
        directories.push(directory);
    }
    Ok(verify_run_dir(&directories, &run, &playbook, ui).await)
}

/// The run's playbook, if it still has the run's SHA-256.
fn load_playbook(path: &Path, sha256: &str) -> Result<Playbook, SessionError> {
    match rundir::sha256_file(path) {
        Ok(h) if h == sha256 => {}
        Ok(_) => {
            return Err(SessionError::Verify {
                message: format!(
                    "{} is not the playbook the run used (SHA-256 differs)",
                    path.display()
                ),
                hint: "verify needs the run's playbook to know what each step meant",
            });
        }
        Err(e) => return Err(cannot("read", path, e)),
    }
    let name = path.display().to_string();
    playbook::load(path, &name)
        .playbook
        .ok_or_else(|| SessionError::Verify {
            message: format!("{name} no longer loads"),
            hint: "check it with `remedy validate`",
        })
}

/// Runs the verify pass over `run` and tells the operator what it found.
pub(super) async fn verify_run_dir(
    directories: &[Directory],
    run: &RunDir,
    playbook: &Playbook,
    ui: &dyn Ui,
) -> VerifyOutcome {
    ui.notice(Notice::Verifying {
        run_id: run.id.clone(),
    });
    match verify_run(directories, &run.journal(), playbook, &run.path).await {
        Ok(summary) => {
            let md = run.path.join("verify.md");
            let text = crate::report::render_verify_markdown(&summary);
            if let Err(e) = crate::atomic_file::write(&md, text.as_bytes()) {
                ui.notice(Notice::Error(format!(
                    "the verify pass failed: cannot write {}: {e}",
                    md.display()
                )));
                return VerifyOutcome::Failed;
            }
            let drift = summary.drift + summary.errors > 0;
            ui.notice(Notice::Verified {
                summary,
                jsonl: run.path.join("verify.jsonl"),
                md,
            });
            if drift {
                VerifyOutcome::Drift
            } else {
                VerifyOutcome::Holds
            }
        }
        Err(e) => {
            ui.notice(Notice::Error(format!("the verify pass failed: {e}")));
            VerifyOutcome::Failed
        }
    }
}
