//! Command-line interface: clap types, dispatch, and the exit-code mapping.
//! This is the only layer that prints or exits; the subcommands live one per
//! file beside it.

mod apply;
mod completions;
mod doctor;
mod emulator;
mod graph_args;
mod logging;
mod man;
mod plan;
mod render;
mod report;
mod run;
mod runs;
mod schema;
mod send_args;
mod session;
mod session_args;
mod ui;
mod validate;
mod verify;

use std::io::{IsTerminal, Write as _};
use std::process::ExitCode;

use clap::{ArgAction, Parser, Subcommand, ValueEnum};

use crate::exit_code;
use crate::report::ProgressMode;

pub use logging::LogFormat;

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
#[command(after_help = "Examples:
  remedy validate workflows/unlock-account.yaml --users locked.csv
  remedy doctor --user adele@contoso.onmicrosoft.com
  remedy plan workflows/unlock-account.yaml --users locked.csv -o plan.json
  remedy apply plan.json
  remedy run workflows/unlock-account.yaml --users locked.csv --verify
  remedy runs && remedy report --format md > incident-report.md

Exit codes: 0 success, 1 problems found (validation errors, failed users, drift), 2 usage error,
invalid input or missing permission (nothing changed), 3 a guard stopped the run or a plan is
stale, 130 interrupted. `remedy plan --detailed-exitcode`: 0 no changes, 2 changes pending,
1 errors.")]
pub struct Cli {
    /// When to use colour in human output and progress bars (NO_COLOR is
    /// honoured by `auto`).
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,

    /// Format of the log lines on stderr: `text`, or `json` (one object per
    /// line) for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,

    /// More detailed logs: -v info, -vv debug (every Graph call), -vvv trace.
    #[arg(short, long, action = ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Quieter: -q logs errors only and hides the progress display; -qq no logs.
    #[arg(short, long, action = ArgAction::Count, global = true, conflicts_with = "verbose")]
    pub quiet: u8,

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
    Runs(runs::RunsArgs),
    Report(report::ReportArgs),
    Completions(completions::CompletionsArgs),
    Man(man::ManArgs),
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

/// Writes `bytes` to stdout; the exit code says whether that worked (a
/// closed pipe is a failure).
pub(crate) fn write_stdout(bytes: &[u8]) -> u8 {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => exit_code::OK,
        Err(_) => exit_code::USAGE,
    }
}

/// Parses arguments, runs the subcommand, and maps the outcome to an exit code.
pub fn main() -> ExitCode {
    // Before anything is read: the environment already holds secrets.
    let hardened = crate::hardening::harden();
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
    logging::init(
        cli.log_format,
        logging::level(cli.verbose, cli.quiet),
        cli.color.stderr_enabled(),
    );
    hardened.log();
    crate::crashpoint::warn_if_ignored();
    let code = match cli.command {
        Command::Run(mut args) => {
            if cli.quiet > 0 && args.record.progress == ProgressMode::Auto {
                args.record.progress = ProgressMode::None;
            }
            run::run(&args, cli.color)
        }
        Command::Plan(args) => plan::run(&args, cli.color),
        Command::Apply(args) => apply::run(&args, cli.color),
        Command::Verify(args) => verify::run(&args),
        Command::Validate(args) => validate::run(&args, cli.color),
        Command::Schema(args) => schema::run(&args),
        Command::Doctor(args) => doctor::run(&args),
        Command::Emulator(args) => emulator::run(&args, cli.color),
        Command::Runs(args) => runs::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    };
    ExitCode::from(code)
}
