//! The directory seam: the provider-neutral types the engine, the journal,
//! plans, verify and reports speak ([`Account`], [`Op`], [`Change`],
//! [`DirError`], [`Privileges`], [`Target`], [`Traffic`]), and [`Directory`], the one type behind which
//! each provider (Microsoft Graph, Active Directory) plugs in.
//!
//! # Layout
//!
//! - `account`: an account as read, its properties and their values.
//! - `op`: an operation on an account (reset, enable/disable, revoke) and
//!   its kind, which the permission preflight maps to a provider's rights.
//! - `error`: the neutral error (kind, code, message, request id,
//!   retry-after, hint) every provider error becomes.
//! - `privileges`: what makes an account privileged (the causes found and
//!   what could not be established) and the protected account's reason.
//! - `target`: which directory a run addresses (provider, endpoint, realm,
//!   principal), as the manifest and the plan header record it.
//! - `traffic`: what a run sent to a directory and what came back (calls,
//!   answers, 429s) and the rate budget it keeps, for the progress display
//!   and the manifest.
//! - `provider`: [`Directory`], an enum over the providers' implementations.

mod account;
mod error;
mod op;
mod privileges;
mod provider;
mod target;
mod traffic;

pub use account::{Account, Change, Property, Value, shown_value, value_hash};
pub use error::{DirError, ErrorKind};
pub use op::{Op, OpKind};
pub use privileges::{Cause, Privileges, Scope, Unknown};
pub use provider::Directory;
pub use target::{Recorded, Target};
pub use traffic::Traffic;
