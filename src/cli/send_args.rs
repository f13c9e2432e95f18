//! The flags that shape how a run sends its requests (concurrency,
//! `$batch`, the rate ceiling), shared by `run`, `plan` and `apply`.

use clap::Args;

#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// HTTP calls in flight at once (with `$batch`, up to 20 users each).
    /// Default: the playbook's `settings.concurrency`, else 16.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub concurrency: Option<u32>,

    /// Send one request per step instead of packing requests of many users
    /// into Graph `$batch` calls of up to 20 (the default; the playbook's
    /// `settings.batch` can also turn it off).
    #[arg(long)]
    pub no_batch: bool,

    /// Ceiling of each shared budget per second: Graph's resource units (a
    /// read of one object or a write costs 1, a list 2) and writes; the
    /// rates adapt below it when Graph throttles. Default: the playbook's
    /// `settings.max_rate`, else no ceiling until Graph throttles.
    #[arg(long, value_name = "PER_SECOND")]
    pub max_rate: Option<f64>,
}

impl SendArgs {
    /// The flags as the session's overrides of the playbook's settings.
    pub fn overrides(&self) -> crate::session::SendOverrides {
        crate::session::SendOverrides {
            concurrency: self.concurrency,
            no_batch: self.no_batch,
            max_rate: self.max_rate,
        }
    }
}
