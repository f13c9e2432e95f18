//! The verify pass: after a run, every user it acted on is read again and
//! compared with what the run meant to leave behind, so that a change that
//! did not stick (sign-in flipped back by directory sync, a reset or a
//! revocation whose timestamp did not move) is reported as drift.
//!
//! # Layout
//!
//! - `expect`: what to check, derived from the run's journal (outcomes,
//!   with the intents' before-state and time), the run's playbook and each
//!   step kind's evidence; the comparison itself is the kind's
//!   (`steps::evaluate`).
//! - `runner`: reads the accounts concurrently through the directory seam
//!   with the engine's retries, writes `verify.jsonl` and `verify.md`, and
//!   sums up.

mod expect;
mod runner;

pub use crate::steps::{Expect, Verdict, evaluate};
pub use expect::{Collector, StepCheck, UserChecks};
pub use runner::{Check, CheckStatus, VerifySummary, verify_run};
