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
//! - [`exit_code`]: the process exit codes, in one place.

pub mod cli;
pub mod diag;
pub mod exit_code;
pub mod graph;
pub mod input;
pub mod playbook;
