//! What a session is asked to do, built from the command's arguments
//! before anything is read or sent.

use std::path::PathBuf;
use std::time::Duration;

use crate::graph::SendOptions;
use crate::graph::connect::ConnectOptions;
use crate::playbook::Playbook;
use crate::report::progress::ProgressMode;
use crate::session::DEFAULT_CONCURRENCY;
use crate::shard::Shard;

/// What a run is for.
#[derive(Debug, Clone)]
pub enum Purpose {
    /// `remedy run` (with `--dry-run`: read only).
    Run { dry_run: bool },
    /// `remedy plan`: a dry run that saves a plan to `out`.
    Plan { out: PathBuf },
    /// `remedy apply`: carry out the plan saved in `plan`.
    Apply { plan: PathBuf, max_age: Duration },
}

impl Purpose {
    pub fn is_dry_run(&self) -> bool {
        match self {
            Purpose::Run { dry_run } => *dry_run,
            Purpose::Plan { .. } => true,
            Purpose::Apply { .. } => false,
        }
    }
}

/// Which directory to talk to.
#[derive(Debug, Clone)]
pub enum Connection {
    /// Microsoft Graph, as the connection flags and environment say.
    Graph(ConnectOptions),
    /// The built-in emulator on 127.0.0.1, seeded with the CSV's users.
    Emulate,
}

/// How Active Directory targets are reached beyond what the playbook
/// says (the bind identity comes from the environment at connect time).
#[derive(Debug, Clone, Default)]
pub struct LdapOptions {
    /// `--ca-file`: CA certificates trusted besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Per operation; `None`: the provider's default.
    pub timeout: Option<Duration>,
}

/// The command-line overrides of the playbook's `settings`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SendOverrides {
    pub concurrency: Option<u32>,
    pub no_batch: bool,
    pub max_rate: Option<f64>,
}

impl SendOverrides {
    /// How requests are sent: these flags over the playbook's `settings`.
    pub fn resolve(self, playbook: &Playbook) -> SendOptions {
        SendOptions {
            concurrency: self
                .concurrency
                .or(playbook.settings.concurrency)
                .unwrap_or(DEFAULT_CONCURRENCY) as usize,
            batch: !self.no_batch && playbook.settings.batch.unwrap_or(true),
            max_rate: self.max_rate.or(playbook.settings.max_rate),
        }
    }
}

/// One `run`, `plan` or `apply`.
#[derive(Debug, Clone)]
pub struct RunConfig {
    pub purpose: Purpose,
    /// The playbook; for `apply`, `None` means the path the plan names.
    pub playbook: Option<PathBuf>,
    /// The CSV; for `apply`, `None` means the path the plan names.
    pub users: Option<PathBuf>,
    pub shard: Option<Shard>,
    pub state_dir: PathBuf,
    /// `Some("")`: resume the latest run; `Some(id)`: that run.
    pub resume: Option<String>,
    /// `--yes`: confirmed in advance.
    pub yes: bool,
    pub progress: ProgressMode,
    /// Colour on stderr (progress bars).
    pub color: bool,
    pub report_dir: Option<PathBuf>,
    pub connection: Connection,
    /// Active Directory targets.
    pub ldap: LdapOptions,
    /// Read every account back after a complete run.
    pub verify: bool,
    /// Check the token's permissions before the run.
    pub preflight: bool,
    pub send: SendOverrides,
}

/// One `remedy verify`.
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// The run to verify; `None`: the latest.
    pub run: Option<String>,
    pub state_dir: PathBuf,
    pub connect: ConnectOptions,
    pub ldap: LdapOptions,
    pub concurrency: Option<u32>,
    pub no_batch: bool,
}
