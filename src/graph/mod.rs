//! Microsoft Graph: the typed client remedy uses to read and change users,
//! its authentication, and the facts (permissions) shared with the emulator.
//!
//! - `cloud`: national clouds and endpoint roots (http only on loopback).
//! - `connect`: connection options → endpoints, TLS trust, credential, client.
//! - `auth`: credentials from the environment or files, token cache.
//! - `client`: the one place that sends HTTP requests to Graph.
//! - `users`: typed user operations (request builders and parsers).
//! - `privilege`: what makes a user privileged (memberships, owned groups,
//!   role assignments, PIM eligibility, role names), the app's own roles
//!   and the PIM licence probe (request builders and parsers).
//! - `domains`: whether a user's domain is federated.
//! - `batch`: `$batch` packing and per-item results.
//! - `error`: typed errors, retry classification, hints.
//! - `redact`: secrets scrubbed out of server text before it is kept or shown.
//! - `transport`: bounded response bodies and transport failures in words,
//!   shared by `client` and `auth`.
//! - `tls`: which servers are trusted (system roots, `--ca-file`, loopback escape hatch).
//! - `permissions`: which app permissions each operation needs.
//! - `dispatch`: sends requests alone or packed into `$batch` calls.
//! - `limiter`: the one adaptive rate budget shared by every request.
//! - `preflight`: the permissions a run needs that the token lacks.
//! - `directory`: Graph behind the directory seam ([`GraphDirectory`]).

pub mod auth;
pub mod batch;
pub mod client;
pub mod cloud;
pub mod connect;
pub mod directory;
pub mod dispatch;
pub mod domains;
pub mod error;
#[cfg(test)]
pub(crate) mod fake;
pub mod limiter;
pub mod permissions;
pub mod preflight;
pub mod privilege;
pub mod redact;
pub mod tls;
pub mod transport;
pub mod users;

pub use client::{ClientOptions, GraphClient, GraphRequest, GraphResponse};
pub use directory::{GraphDirectory, SendOptions};
pub use error::{ErrorKind, GraphError};
