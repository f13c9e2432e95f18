//! Running a session from a command: the runtime, the terminal as the
//! session's [`Ui`](crate::session::Ui), and errors shown with their
//! hints. Shared by `run`, `plan`, `apply` and `verify`; no command
//! imports another.

use std::sync::Arc;

use crate::session::{self, Connection, Outcome, RunConfig};

use super::ColorChoice;
use super::graph_args::GraphArgs;
use super::ui::{Terminal, report_error};

/// `--emulate`, or the Graph connection the flags describe.
pub fn connection(emulate: bool, graph: &GraphArgs) -> Connection {
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
