//! Process exit codes, documented once and used everywhere.
//!
//! | code | meaning |
//! |------|---------|
//! | 0 | success: no errors (warnings allowed unless `--deny-warnings`) |
//! | 1 | problems found (validation errors; later: some users failed) |
//! | 2 | usage error, unreadable file, or invalid input before any change |
//! | 3 | a guard stopped the run |
//! | 130 | interrupted |
//!
//! `run` and `apply` exit 2 when the permission preflight finds a missing
//! permission, and 1 when `--verify` (or `remedy verify`) finds drift or
//! `apply` left drifted users alone; `apply` exits 3 for a stale plan
//! (playbook or CSV changed, another tenant, older than `--max-age`).
//! `remedy plan --detailed-exitcode` replaces the table, like Terraform:
//! 0 nothing would change, 2 changes pending, 1 any error (usage and guard
//! errors included, since 2 then means "changes"); 130 stays 130. clap's
//! own argument errors still exit 2, before the flag is read.

/// Everything checked out.
pub const OK: u8 = 0;
/// The inputs were read and problems were found in them.
pub const PROBLEMS: u8 = 1;
/// The command could not do its job: bad arguments or unreadable files.
pub const USAGE: u8 = 2;
/// A playbook guard stopped the run.
pub const GUARD: u8 = 3;
/// Interrupted by Ctrl-C or SIGTERM.
pub const INTERRUPTED: u8 = 130;
