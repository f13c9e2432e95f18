//! One session of `remedy run`, `plan`, `apply` or `verify`, between the
//! CLI and the engine: a [`RunConfig`] built from the arguments before any
//! I/O; preparation (inputs, hashes, guards, the connection or the
//! emulator, the tenant pin, the plan's freshness, the permission
//! preflight, the state directory and resume compatibility); execution
//! (confirmation, manifest, journal, engine, reports, verify); and one
//! [`Outcome`] with the single `exit_code()` mapping. Errors are
//! [`SessionError`]s with their hints. The session never prints: what the
//! operator must hear on the way goes through [`Ui`].
//!
//! # Layout
//!
//! - `config`: [`RunConfig`], [`VerifyConfig`] and what they hold.
//! - `error`: [`SessionError`], its hint and its exit code.
//! - `ui`: [`Ui`] (notices, the confirmation, the second Ctrl-C) and
//!   [`Notice`].
//! - `connect`: the Graph connection or the in-process emulator, and the
//!   tenant pin.
//! - `prepare`: everything before the first change.
//! - `resume`: whether an earlier run may be resumed, and what it left.
//! - `execute`: confirmation, manifest, journal, the engine, reports.
//! - `drift`: the users an apply left alone because they drifted.
//! - `reader`: the CSV reader thread and the signal watcher.
//! - `outcome`: [`Outcome`] and its exit code.
//! - `verify`: the verify pass of `remedy verify` and `--verify`.

mod config;
mod connect;
mod drift;
mod error;
mod execute;
mod outcome;
mod prepare;
mod reader;
mod resume;
mod ui;
mod verify;

pub use config::{Connection, LdapOptions, Purpose, RunConfig, SendOverrides, VerifyConfig};
pub use connect::connect_ldap;
pub use error::SessionError;
pub use execute::run;
pub use outcome::{Drifted, Ended, Outcome, VerifyOutcome};
pub use ui::{Confirmation, Notice, Ui};
pub use verify::verify;

/// Default HTTP calls in flight when neither the flag nor the playbook says.
pub const DEFAULT_CONCURRENCY: u32 = 16;
