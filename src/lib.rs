//! remedy: declarative, resumable bulk remediation of Microsoft Entra ID
//! accounts after an incident.
//!
//! # Layout
//!
//! - [`cli`]: argument parsing and the subcommands; the only layer that
//!   prints or exits.
//! - [`playbook`]: the `remedy/v1` playbook language: YAML with positions →
//!   model types (serde + schemars) → a checked [`playbook::Playbook`].
//! - [`input`]: streaming reader and checker for user CSVs (plain, Entra
//!   "Download users" export, Entra bulk-operation templates).
//! - [`diag`]: the [`diag::Diagnostic`] type every input problem becomes,
//!   and its `human`, `json`, `github` and `sarif` renderers.
//! - [`graph`]: the Microsoft Graph client: clouds, authentication, typed
//!   user operations, `$batch`, typed errors, permissions.
//! - [`ldap`]: the Active Directory provider over LDAP (TLS only).
//! - [`directory`]: the provider-neutral account, operation, change,
//!   error and target types, and the [`directory::Directory`] seam.
//! - [`steps`]: one file per step kind: parameters, decision, operation,
//!   evidence, dry-run and drift texts.
//! - [`emulator`]: a Graph-compatible server on 127.0.0.1 for tests,
//!   benchmarks and `--emulate`.
//! - [`session`]: one run, plan, apply or verify between the CLI and the
//!   engine: config → prepare → execute → outcome (the one exit code).
//! - [`engine`]: applies a playbook to a stream of rows, concurrently, with
//!   a shared pace; emits [`engine::RunEvent`]s.
//! - [`journal`]: the append-only, group-committed run journal and its
//!   replay for `--resume`.
//! - [`secrets`]: password generation and the 0600 `secrets.csv`.
//! - [`rundir`]: the state directory, its lock, run directories and
//!   manifests.
//! - [`operator`]: who started a run and on which host (manifest).
//! - [`shard`]: `--shard i/N`, the stable split of a CSV's users.
//! - [`report`]: reports built from the journal, and the progress display.
//! - [`plan`]: saved plans (`remedy plan`, `remedy apply`): the file
//!   format, its streaming writer, and the index `apply` reads.
//! - [`verify`]: the verify pass: what a run should have left behind,
//!   read back from Graph and compared.
//! - [`exit_code`]: the process exit codes, in one place.
//! - [`crashpoint`]: `REMEDY_CRASH_AT`, the kill campaign's crash points
//!   inside the durable writes (only in a `crash-points` build).
//! - [`hardening`]: no core dumps, not dumpable, from process start.

pub mod atomic_file;
pub mod cli;
pub mod crashpoint;
pub mod diag;
pub mod directory;
pub mod emulator;
pub mod engine;
pub mod exit_code;
pub mod graph;
pub mod hardening;
pub mod input;
pub mod journal;
pub mod ldap;
pub mod operator;
pub mod plan;
pub mod playbook;
pub mod report;
pub mod rundir;
pub mod secrets;
pub mod session;
pub mod shard;
pub mod steps;
pub mod verify;
