//! `remedy verify [RUN]`, and the verify pass of `run --verify` and
//! `apply --verify`: reads back every user a run acted on and reports
//! drift as a table on stdout and `verify.jsonl` / `verify.md` in the run
//! directory.

use std::path::PathBuf;

use clap::Args;

use crate::session::{self, VerifyConfig};

use super::graph_args::GraphArgs;
use super::ui::{Terminal, report_error};

/// Check that a run's changes still hold.
///
/// Reads every user the run changed (or found already in the desired
/// state) and compares it with what the run meant to leave: accountEnabled
/// as the playbook wants it (directory sync may flip it back), and for
/// resets and revocations, lastPasswordChangeDateTime or
/// signInSessionsValidFromDateTime moved past the moment the run recorded
/// its intent. The journal says what was done to whom and when.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy verify
  remedy verify 20260101T120000Z-1a2b --state-dir .remedy

Exit codes: 0 no drift, 1 drift found (or users that could not be read), 2 usage, unreadable
run or playbook changed since the run, 3 the credentials are for another tenant than the run's.")]
pub struct VerifyArgs {
    /// The run to verify (a directory name under STATE_DIR/runs). Default:
    /// the latest.
    #[arg(value_name = "RUN")]
    pub run: Option<String>,

    /// Where runs are recorded.
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// Users read at once.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=512))]
    pub concurrency: Option<u32>,

    /// Send one request per user instead of `$batch` calls of up to 20.
    #[arg(long)]
    pub no_batch: bool,

    #[command(flatten)]
    pub graph: GraphArgs,
}

pub fn run(args: &VerifyArgs) -> u8 {
    let runtime = match super::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    let config = VerifyConfig {
        run: args.run.clone(),
        state_dir: args.state_dir.clone(),
        connect: args.graph.options(),
        ldap: args.graph.ldap_options(),
        concurrency: args.concurrency,
        no_batch: args.no_batch,
    };
    let ui = Terminal { color: false };
    match runtime.block_on(session::verify(&config, &ui)) {
        Ok(outcome) => outcome.exit_code(),
        Err(e) => report_error(&e),
    }
}
