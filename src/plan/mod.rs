//! Saved plans: `remedy plan` records what a dry run found for every user
//! and step, bound to the exact playbook and CSV bytes, the tenant and a
//! creation time; `remedy apply` does exactly what the plan says would
//! change, and nothing more.
//!
//! # Layout
//!
//! - `file`: the plan's JSON Lines format (header, one line per user, end
//!   line) and [`PlanWriter`], which streams it to disk.
//! - `index`: [`PlanIndex`], a plan read back for `apply` (a few bytes per
//!   user with something to check), and [`PlanError`].
//! - `fresh`: whether a plan still applies (hashes, tenant, age) and
//!   `--max-age` parsing.

mod file;
mod fresh;
mod index;

pub use file::{
    Change, FORMAT, PlanAccount, PlanEnd, PlanHeader, PlanLine, PlanStep, PlanStepInfo, PlanUser,
    PlanWriter, StepResult, UserResult,
};
pub use fresh::{Binding, parse_max_age, refuse_stale};
pub use index::{Mark, PlanError, PlanIndex, PlannedStep, PlannedUser};
