//! Command-line interface: clap types, dispatch, and the exit-code mapping.
//! This is the only layer that prints or exits; the subcommands live one per
//! file beside it.

mod apply;
mod doctor;
mod emulator;
mod graph_args;
mod plan;
mod run;
mod run_mode;
mod run_setup;
mod schema;
mod validate;
mod verify;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::exit_code;

/// Declarative, resumable bulk remediation of Microsoft Entra ID accounts.
///
/// After an incident (a password-spray attack, a batch of compromised
/// accounts), remedy applies a YAML playbook (reset the password, make sure
/// the user may sign in, revoke sessions) to every user in a CSV.
#[derive(Debug, Parser)]
#[command(
    name = "remedy",
    version,
    propagate_version = true,
    max_term_width = 100
)]
#[command(
    after_help = "Exit codes: 0 success, 1 problems found (validation errors, failed users, drift), 2 usage error,\ninvalid input or missing permission (nothing changed), 3 a guard stopped the run or a plan is\nstale, 130 interrupted. `remedy plan --detailed-exitcode`: 0 no changes, 2 changes pending, 1 errors."
)]
pub struct Cli {
    /// When to use colour in human output (NO_COLOR is honoured).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Run(run::RunArgs),
    Plan(plan::PlanArgs),
    Apply(apply::ApplyArgs),
    Verify(verify::VerifyArgs),
    Validate(validate::ValidateArgs),
    Schema(schema::SchemaArgs),
    Doctor(doctor::DoctorArgs),
    Emulator(emulator::EmulatorArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// Whether to colour output written to stderr.
    pub fn stderr_enabled(self) -> bool {
        match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
                    && std::io::stderr().is_terminal()
            }
        }
    }
}

/// The async runtime of the commands that talk to Graph; on failure, says
/// why and returns the exit code.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, u8> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("error: cannot start the async runtime: {e}");
            exit_code::USAGE
        })
}

/// Parses arguments, runs the subcommand, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with success, and usage
            // errors to stderr; usage errors exit 2 as documented.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit_code::USAGE
            } else {
                exit_code::OK
            });
        }
    };
    let code = match cli.command {
        Command::Run(args) => run::run(&args, cli.color),
        Command::Plan(args) => plan::run(&args, cli.color),
        Command::Apply(args) => apply::run(&args, cli.color),
        Command::Verify(args) => verify::run(&args),
        Command::Validate(args) => validate::run(&args, cli.color),
        Command::Schema(args) => schema::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Emulator(args) => emulator::run(&args),
    };
    ExitCode::from(code)
}
