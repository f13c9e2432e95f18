//! Microsoft Graph: the typed client remedy uses to read and change users,
//! its authentication, and the facts (permissions) shared with the emulator.
//!
//! - `cloud`: national clouds and endpoint roots (http only on loopback).
//! - `auth`: credentials from the environment or files, token cache.
//! - `client`: the one place that sends HTTP requests to Graph.
//! - `users`: typed user operations (request builders and parsers).
//! - `batch`: `$batch` packing and per-item results.
//! - `error`: typed errors, retry classification, hints.
//! - `transport`: bounded response bodies and transport failures in words,
//!   shared by `client` and `auth`.
//! - `tls`: which servers are trusted (system roots, `--ca-file`, loopback escape hatch).
//! - `permissions`: which app permissions each operation needs.

pub mod auth;
pub mod batch;
pub mod client;
pub mod cloud;
pub mod error;
pub mod permissions;
pub mod tls;
pub mod transport;
pub mod users;

pub use client::{ClientOptions, GraphClient, GraphRequest, GraphResponse};
pub use error::{ErrorKind, GraphError};
