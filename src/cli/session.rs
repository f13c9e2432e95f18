//! Running a session from a command: the runtime, the terminal as the
//! session's [`Ui`](crate::session::Ui), and errors shown with their
//! hints. Shared by `run`, `plan`, `apply` and `verify`; no command
//! imports another.

use std::sync::Arc;

use std::path::PathBuf;

use crate::session::{self, Connection, Outcome, Purpose, RunConfig};
use crate::shard::Shard;

use super::ColorChoice;
use super::graph_args::GraphArgs;
use super::session_args::{ChangeArgs, RecordArgs};
use super::ui::{Terminal, report_error};

/// `--emulate`, or the Graph connection the flags describe.
fn connection(emulate: bool, graph: &GraphArgs) -> Connection {
    if emulate {
        Connection::Emulate
    } else {
        Connection::Graph(graph.options())
    }
}

/// Runs `config` on a new runtime; `Err` is the exit code of a session
/// that could not run (its error already shown).
pub fn run_session(config: &RunConfig, color: ColorChoice) -> Result<Outcome, u8> {
    let runtime = super::runtime()?;
    let ui = Arc::new(Terminal {
        color: color.stderr_enabled(),
    });
    runtime
        .block_on(session::run(config, ui))
        .map_err(|e| report_error(&e))
}

impl RecordArgs {
    /// The session's configuration: these flags, the command's own, and
    /// (for commands that change accounts) its confirmation, resume,
    /// preflight and `--verify` flags. A plan asks nothing, resumes
    /// nothing and always runs the preflight.
    pub fn config(
        &self,
        purpose: Purpose,
        (playbook, users): (Option<PathBuf>, Option<PathBuf>),
        shard: Option<Shard>,
        change: Option<(&ChangeArgs, bool)>,
        color: ColorChoice,
    ) -> RunConfig {
        RunConfig {
            purpose,
            playbook,
            users,
            shard,
            state_dir: self.state_dir.clone(),
            resume: change.and_then(|(c, _)| c.resume.clone()),
            yes: change.is_none_or(|(c, _)| c.yes),
            progress: self.progress,
            color: color.stderr_enabled(),
            report_dir: self.report_dir.clone(),
            connection: connection(self.emulate, &self.graph),
            ldap: self.graph.ldap_options(),
            verify: change.is_some_and(|(_, verify)| verify),
            preflight: change.is_none_or(|(c, _)| !c.no_preflight),
            send: self.send.overrides(),
        }
    }
}
