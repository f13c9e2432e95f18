//! What distinguishes `remedy run`, `remedy plan` and `remedy apply`, which
//! share one execution path: the [`Mode`], how a run ended ([`Finished`]),
//! and the plan header a planning dry run writes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::plan::{PlanEnd, PlanHeader, PlanIndex, PlanStepInfo};
use crate::playbook;
use crate::rundir::{self, Manifest};

/// What a run is for: a plain run, a dry run that saves a plan, or the
/// apply of a saved plan.
pub(super) enum Mode {
    Run,
    Plan {
        out: PathBuf,
    },
    Apply {
        plan: Arc<PlanIndex>,
        file: PathBuf,
        sha256: String,
        max_age: Duration,
    },
}

/// How a run ended, for the command that started it.
pub(super) struct Finished {
    pub code: u8,
    /// `Mode::Plan`: the saved plan's totals.
    pub plan: Option<PlanEnd>,
}

/// The SHA-256 of the plan an apply carries out.
pub(super) fn plan_sha(mode: &Mode) -> Option<&str> {
    match mode {
        Mode::Apply { sha256, .. } => Some(sha256),
        _ => None,
    }
}

/// The header of the plan a dry run writes: what it is bound to.
pub(super) fn plan_header(manifest: &Manifest, playbook: &playbook::Playbook) -> PlanHeader {
    PlanHeader {
        format: crate::plan::FORMAT,
        remedy_version: manifest.remedy_version.clone(),
        created: rundir::now_rfc3339(),
        playbook_name: manifest.playbook_name.clone(),
        playbook_file: manifest.playbook_file.clone(),
        playbook_sha256: manifest.playbook_sha256.clone(),
        csv_file: manifest.csv_file.clone(),
        csv_sha256: manifest.csv_sha256.clone(),
        tenant: manifest.tenant.clone(),
        graph_url: manifest.graph_url.clone(),
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
