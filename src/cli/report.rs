//! `remedy report`: regenerate a recorded run's summary from its journal
//! and manifest, on stdout, without touching the run's directory.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::exit_code;
use crate::report::{self, RunInfo};
use crate::rundir;

/// Print a past run's summary, rebuilt from its journal.
///
/// The Markdown is the run's summary.md (what ran, counts per step, the
/// first failed users with Graph's error codes and request ids), for an
/// incident ticket or a pull request. It is rebuilt from the journal, so it
/// is complete even for a run that was killed before writing its reports.
/// Reads only the manifest and the journal; never secrets.csv.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy report                                  # the latest run, as Markdown
  remedy report 20250301T101500.250Z-3f2a --format text
  remedy report --state-dir /var/lib/remedy >> \"$GITHUB_STEP_SUMMARY\"")]
pub struct ReportArgs {
    /// The run id (`remedy runs` lists them). Default: the latest run.
    #[arg(value_name = "RUN")]
    pub run: Option<String>,

    /// The state directory the run was recorded in.
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// `md`: the summary.md Markdown; `text`: the table `remedy run` prints.
    #[arg(long, value_enum, default_value_t = ReportFormat::Md)]
    pub format: ReportFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ReportFormat {
    Md,
    Text,
}

pub fn run(args: &ReportArgs) -> u8 {
    let found = rundir::find_run_unlocked(&args.state_dir, args.run.as_deref());
    let run = match found {
        Ok(run) => run,
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  hint: `remedy runs --state-dir DIR` lists the recorded runs");
            return exit_code::USAGE;
        }
    };
    let m = match run.read_manifest() {
        Ok(m) => m,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", run.manifest().display());
            return exit_code::USAGE;
        }
    };
    let steps: Vec<(String, String)> = m
        .steps
        .iter()
        .map(|s| (s.id.clone(), s.title.clone()))
        .collect();
    let summary = match report::summarize(&run.journal(), &steps) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", run.journal().display());
            return exit_code::USAGE;
        }
    };
    let text = match args.format {
        ReportFormat::Md => {
            let info = RunInfo {
                directories: m.directories(),
                run_id: m.run_id,
                playbook_name: m.inputs.playbook_name,
                playbook_file: m.inputs.playbook_file,
                csv_file: m.inputs.csv_file,
                dry_run: m.dry_run,
                tenant: m.target.0.realm,
                shard: m.shard.map(|s| s.to_string()),
                started: m.started,
                finished: m.finished.unwrap_or_else(|| "not finished".to_owned()),
                traffic: m.traffic,
            };
            report::render_markdown(&summary, &info)
        }
        ReportFormat::Text => report::render_table(&summary, m.dry_run, 20),
    };
    super::write_stdout(text.as_bytes())
}
