//! Everything before the first change, in order: the plan (for `apply`),
//! the playbook and the CSV (all their problems at once), the guards that
//! need only the inputs, the connection and the tenant pin, the plan's
//! freshness, the permission preflight (with the PIM licence probe and the
//! app's own directory role), the state directory, and a new or resumed
//! run directory. Any failure here has changed nothing.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use secrecy::SecretString;

use crate::diag::Severity;
use crate::graph::auth::TokenClaims;
use crate::graph::preflight;
use crate::graph::privilege::Licence;
use crate::input;
use crate::journal::Replay;
use crate::plan::{Binding, PlanIndex};
use crate::playbook::{self, Playbook};
use crate::rundir::{self, RunDir, StateDir};
use crate::session::config::{Purpose, RunConfig};
use crate::session::connect::{Connected, connect};
use crate::session::error::{SessionError, cannot};
use crate::session::resume::{self, Found, Resume};
use crate::session::ui::{Notice, Ui};

/// The plan an apply carries out.
pub(super) struct ApplyPlan {
    pub index: Arc<PlanIndex>,
    pub file: PathBuf,
    pub sha256: String,
}

/// The inputs as named and as hashed.
pub(super) struct Inputs {
    pub playbook: PathBuf,
    pub users: PathBuf,
    /// How the operator named them (diagnostics, manifest, reports).
    pub playbook_name: String,
    pub csv_name: String,
    pub playbook_sha256: String,
    pub csv_sha256: String,
}

/// A session ready to confirm and run.
pub(super) struct Prepared {
    pub inputs: Inputs,
    pub playbook: Arc<Playbook>,
    /// Users this run covers (the shard's, when sharded).
    pub users: u64,
    pub csv_rows: u64,
    pub connected: Connected,
    pub plan: Option<ApplyPlan>,
    /// Held (locked) for the whole run.
    pub state: StateDir,
    pub run: RunDir,
    pub replay: Option<Replay>,
    pub saved_passwords: HashMap<String, SecretString>,
    pub started: String,
    /// A resumed run: the traffic its earlier attempts recorded.
    pub earlier_traffic: Option<rundir::RunTraffic>,
}

/// What preparation found.
pub(super) enum Ready {
    Run(Box<Prepared>),
    /// `--resume` of a run that already completed: nothing to do.
    Completed {
        run: RunDir,
        users: u64,
        failed: u64,
    },
}

pub(super) async fn prepare(config: &RunConfig, ui: &dyn Ui) -> Result<Ready, SessionError> {
    let plan = match &config.purpose {
        Purpose::Apply { plan, .. } => Some(ApplyPlan {
            index: Arc::new(PlanIndex::read(plan).map_err(SessionError::PlanFile)?),
            file: plan.clone(),
            sha256: rundir::sha256_file(plan).map_err(|e| cannot("read", plan, e))?,
        }),
        Purpose::Run { .. } | Purpose::Plan { .. } => None,
    };
    let from_plan = |pick: fn(&ApplyPlan) -> &str| plan.as_ref().map(|p| PathBuf::from(pick(p)));
    let (Some(pb_path), Some(csv_path)) = (
        config
            .playbook
            .clone()
            .or_else(|| from_plan(|p| &p.index.header.inputs.playbook_file)),
        config
            .users
            .clone()
            .or_else(|| from_plan(|p| &p.index.header.inputs.csv_file)),
    ) else {
        return Err(SessionError::Playbook);
    };

    // 1. Validate everything before touching anything.
    let pb_name = pb_path.display().to_string();
    let csv_name = csv_path.display().to_string();
    let loaded = playbook::load(&pb_path, &pb_name);
    let mut diags = loaded.diagnostics;
    let checked = loaded
        .playbook
        .as_ref()
        .map(|p| input::check_csv(&csv_path, &csv_name, &p.input));
    if let Some(c) = &checked {
        diags.extend(c.diagnostics.iter().cloned());
    }
    let problems = diags
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    if !diags.is_empty() {
        ui.notice(Notice::Diagnostics(diags));
    }
    let (Some(playbook), Some(checked)) = (loaded.playbook, checked) else {
        return Err(SessionError::Playbook);
    };
    if problems > 0 {
        return Err(SessionError::Input { problems });
    }
    if let Some(dir) = &config.report_dir {
        check_report_dir(dir).map_err(|source| SessionError::ReportDir {
            dir: dir.clone(),
            source,
        })?;
    }
    let csv_rows = checked.rows;
    let mut users = csv_rows;
    if let Some(max) = playbook.guards.max_users
        && users > max
    {
        return Err(SessionError::TooManyUsers { users, max });
    }
    if let Some(shard) = config.shard {
        users = shard
            .count_rows(&csv_path, &csv_name, &playbook.input.key)
            .map_err(|e| SessionError::Shard(e.to_string()))?;
        ui.notice(Notice::Shard {
            shard,
            users,
            csv_rows,
        });
    }
    let hash = |p: &PathBuf| {
        rundir::sha256_file(p).map_err(|e| SessionError::io("cannot read the inputs", e))
    };
    let inputs = Inputs {
        playbook_sha256: hash(&pb_path)?,
        csv_sha256: hash(&csv_path)?,
        playbook: pb_path,
        users: csv_path,
        playbook_name: pb_name,
        csv_name,
    };
    tracing::info!(
        playbook = %inputs.playbook_name,
        csv = %inputs.csv_name,
        users,
        csv_rows,
        shard = config.shard.map(tracing::field::display),
        "inputs validated"
    );

    // 2. Connect (or start the emulator) and check the tenant pin.
    let send = config.send.resolve(&playbook);
    let connected = connect(
        &config.connection,
        &config.ldap,
        send.concurrency,
        &inputs.users,
        &playbook,
        ui,
    )
    .await?;
    let mut plan = plan;
    if connected.emulator.is_some()
        && let Some(ix) = plan.as_mut().and_then(|p| Arc::get_mut(&mut p.index))
    {
        // The in-process emulator is seeded afresh, its times relative to
        // its start: the plan's timestamps are another emulator's.
        ix.forget_what_it_saw();
    }

    // A saved plan must still hold: same inputs, same tenant, not too old.
    let targets = connected.targets(&playbook);
    if let (Some(p), Purpose::Apply { max_age, .. }) = (&plan, &config.purpose) {
        let binding = Binding {
            playbook_sha256: &inputs.playbook_sha256,
            csv_sha256: &inputs.csv_sha256,
            tenant: targets[0].realm.as_deref(),
            others: targets.iter().skip(1).map(|t| t.realm.as_deref()).collect(),
            now: time::OffsetDateTime::now_utc(),
            max_age: *max_age,
        };
        crate::plan::refuse_stale(&p.index.header, &binding).map_err(SessionError::Plan)?;
    }
    let dry_run = config.purpose.is_dry_run();
    if !config.preflight {
        ui.notice(Notice::PreflightSkipped);
    } else if let Some(g) = &connected.graph {
        check_permissions(g.token.claims.as_ref(), &playbook, dry_run, ui)?;
    }
    for t in connected.targets(&playbook) {
        tracing::info!(
            provider = %t.provider,
            endpoint = %t.endpoint,
            realm = t.realm.as_deref(),
            principal = t.principal.as_deref(),
            "connected"
        );
    }

    // 3. State directory, and what an earlier run already did.
    let state = StateDir::open(&config.state_dir)?;
    let plan_sha = plan.as_ref().map(|p| p.sha256.as_str());
    let (run, replay, saved_passwords, started, earlier_traffic) = match &config.resume {
        Some(id) => {
            let asked = Resume {
                id,
                playbook_sha256: &inputs.playbook_sha256,
                csv_sha256: &inputs.csv_sha256,
                dry_run,
                plan_sha256: plan_sha,
                plan_file: plan.as_ref().map(|p| p.file.as_path()),
                shard: config.shard,
                targets: &targets,
                emulated: connected.emulator.is_some(),
            };
            match resume::prepare(&state, &asked, ui)? {
                Found::Completed { run, users, failed } => {
                    return Ok(Ready::Completed { run, users, failed });
                }
                Found::Resume(r) => {
                    if config.preflight {
                        check_guard_and_role(&connected, &playbook, dry_run, ui).await?;
                    }
                    (
                        r.run,
                        Some(r.replay),
                        r.saved_passwords,
                        r.started,
                        r.traffic,
                    )
                }
            }
        }
        None => {
            // A plan is applied at most once (as a used Terraform plan is
            // refused): a second apply would reset every password again.
            if let Some(p) = &plan
                && let Some(by) = resume::applied_by(&state, &p.sha256)
            {
                return Err(resume::already_applied(&p.file, &by));
            }
            // Read from Graph, so after what the inputs alone decide (a
            // completed run resumed sends nothing).
            if config.preflight {
                check_guard_and_role(&connected, &playbook, dry_run, ui).await?;
            }
            (
                state.new_run()?,
                None,
                HashMap::new(),
                rundir::now_rfc3339(),
                None,
            )
        }
    };
    if config.resume.is_none() {
        // The playbook travels with the run (for `remedy verify`), and an
        // apply names its plan before anything can change.
        let copied = std::fs::copy(&inputs.playbook, run.path.join("playbook.yaml"));
        let marked = plan_sha.map_or(Ok(()), |sha| {
            std::fs::write(resume::applied_plan(&run), format!("{sha}\n"))
        });
        if let Err(e) = copied.and(marked) {
            return Err(cannot("write to", &run.path, e));
        }
    }
    Ok(Ready::Run(Box::new(Prepared {
        inputs,
        playbook: Arc::new(playbook),
        users,
        csv_rows,
        connected,
        plan,
        state,
        run,
        replay,
        saved_passwords,
        started,
        earlier_traffic,
    })))
}

/// `--report-dir` takes the reports: created if missing, it must be a
/// directory that takes a new file (checked by creating one and removing
/// it), found before anything changes rather than after the run.
fn check_report_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    if !std::fs::metadata(dir)?.is_dir() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::NotADirectory,
            "not a directory",
        ));
    }
    // Dropped uncommitted: the probe is removed.
    crate::atomic_file::AtomicFile::create(&dir.join("results.csv")).map(drop)
}

/// The permission preflight: every Graph operation the run performs must
/// be granted by the token's `roles`, checked before anything changes. A
/// dry run needs only reads, and is warned about what applying would lack.
fn check_permissions(
    claims: Option<&TokenClaims>,
    playbook: &Playbook,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<(), SessionError> {
    let Some(claims) = claims else {
        ui.notice(Notice::OpaqueToken);
        return Ok(());
    };
    let missing = preflight::missing(playbook, !dry_run, &claims.roles);
    if !missing.is_empty() {
        return Err(SessionError::Permissions(missing));
    }
    if dry_run {
        for m in preflight::missing(playbook, true, &claims.roles) {
            ui.notice(Notice::WouldBeRefused(m.describe()));
        }
    }
    Ok(())
}

/// The rest of the preflight, read from Graph: with the privileged-account
/// guard on and `pim_eligibility: required`, PIM eligibility must be
/// readable (without its licence every user would be protected: refused);
/// and a run that changes users is warned when the app's service
/// principal holds none of the roles the changes need (documents disagree
/// on whether they are needed: never refused). A dry run needs no role.
async fn check_guard_and_role(
    connected: &Connected,
    playbook: &Playbook,
    dry_run: bool,
    ui: &dyn Ui,
) -> Result<(), SessionError> {
    let Some(g) = &connected.graph else {
        return Ok(());
    };
    let oid = g.token.claims.as_ref().and_then(|c| c.oid.as_deref());
    let guards = &playbook.guards;
    if guards.protect_privileged && guards.pim_eligibility == playbook::PimEligibility::Required {
        match preflight::pim_licence(&g.client, oid).await {
            Licence::Licensed => {}
            Licence::Missing(e) => {
                tracing::info!(error = %e, "PIM eligibility cannot be read: no licence");
                return Err(SessionError::PimUnlicensed);
            }
            Licence::Unknown(e) => ui.notice(Notice::Warning(format!(
                "PIM eligibility could not be probed ({e}); users whose eligibility cannot be read are protected"
            ))),
        }
    }
    if !dry_run && !playbook.steps.is_empty() {
        let role = preflight::app_role(&g.client, oid).await;
        if let Some(w) = role.warning() {
            ui.notice(Notice::Warning(w));
        }
    }
    Ok(())
}
