//! The verify pass: after a run, every user it acted on is read again and
//! compared with what the run meant to leave behind, so that a change that
//! did not stick (sign-in flipped back by directory sync, a reset or a
//! revocation whose timestamp did not move) is reported as drift.
//!
//! # Layout
//!
//! - `expect`: what to check, derived from the run's journal (outcomes,
//!   with the intents' before-state and time) and the run's playbook; and
//!   the pure comparison of one expectation with a user read now.
//! - `runner`: reads the users concurrently through the engine's
//!   dispatcher, writes `verify.jsonl` and `verify.md`, and sums up.

mod expect;
mod runner;

pub use expect::{Collector, Expect, StepCheck, UserChecks, Verdict, evaluate};
pub use runner::{Check, CheckStatus, VerifySummary, verify_run};
