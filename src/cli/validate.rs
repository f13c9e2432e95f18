//! `remedy validate`: check playbooks (and optionally a user CSV against
//! them) and report every problem in the chosen format.

use std::io::Write;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};

use crate::diag::{self, Diagnostic, Report, Severity};
use crate::exit_code;
use crate::input::{self, InputSpec};
use crate::playbook::{self, checked::DEFAULT_KEY};

/// Check playbook files, and a user CSV against them.
///
/// Reports every problem in every file (not just the first), each with
/// file:line:column, a stable code and a hint. Directories are expanded to
/// the `.yaml`/`.yml` files they contain.
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy validate workflows/*.yaml
  remedy validate workflows/unlock-account.yaml --users locked.csv
  remedy validate --format github workflows/          # annotations in GitHub Actions
  remedy validate --format sarif workflows/ > remedy.sarif
  remedy validate --format json --deny-warnings workflows/

Exit codes: 0 no errors (warnings allowed unless --deny-warnings), 1 problems found,
2 usage error or unreadable file.")]
pub struct ValidateArgs {
    /// Playbook files or directories.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,

    /// A user CSV to check against the playbooks' `input` section.
    #[arg(long, value_name = "CSV")]
    pub users: Option<PathBuf>,

    /// Output format. `json` is JSON Lines: one object per diagnostic.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,

    /// Treat warnings as errors (exit 1).
    #[arg(long)]
    pub deny_warnings: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Human,
    Json,
    Github,
    Sarif,
}

pub fn run(args: &ValidateArgs, color: super::ColorChoice) -> u8 {
    let (files, mut report) = expand(&args.files);
    let mut specs: Vec<InputSpec> = Vec::new();
    let mut playbooks = Vec::new();
    for (path, name) in &files {
        let loaded = playbook::load(path, name);
        if let Some(p) = loaded.playbook {
            if !specs.contains(&p.input) {
                specs.push(p.input.clone());
            }
            playbooks.push(p);
        }
        report.diagnostics.extend(loaded.diagnostics);
    }
    let playbooks_ok = playbooks.len();
    let mut rows = None;
    if let Some(csv) = &args.users {
        if specs.is_empty() {
            // No valid playbook to take the columns from: still check the
            // CSV's own shape against the default key.
            specs.push(InputSpec {
                key: DEFAULT_KEY.to_owned(),
                columns: vec![DEFAULT_KEY.to_owned()],
                key_kind: crate::input::KeyKind::default(),
            });
        }
        let name = csv.display().to_string();
        for spec in &specs {
            let checked = input::check_csv(csv, &name, spec);
            rows = Some(checked.rows);
            for p in playbooks.iter().filter(|p| &p.input == spec) {
                if let Some(max) = p.guards.max_users.filter(|max| checked.rows > *max) {
                    report.diagnostics.push(
                        Diagnostic::error(
                            "csv::too-many-users",
                            &name,
                            format!(
                                "{} users exceed `guards.max_users` ({max}) of {}; a run would be refused",
                                checked.rows, p.file
                            ),
                        )
                        .with_hint("split the CSV, or raise `max_users` in the playbook if this many users is intended"),
                    );
                }
            }
            for d in checked.diagnostics {
                if !report
                    .diagnostics
                    .iter()
                    .any(|e| e.code == d.code && e.location == d.location && e.message == d.message)
                {
                    report.diagnostics.push(d);
                }
            }
        }
    }

    let errors = report.errors();
    let warnings = report.warnings();
    let rendered = match args.format {
        Format::Human => diag::render_human(&report.diagnostics, color.stderr_enabled(), 100),
        Format::Json => diag::render_json(&report.diagnostics),
        Format::Github => diag::render_github(&report.diagnostics),
        Format::Sarif => diag::render_sarif(&report.diagnostics),
    };
    if args.format == Format::Human {
        let mut err = std::io::stderr().lock();
        let _ = err.write_all(rendered.as_bytes());
        let users = rows.map_or(String::new(), |r| format!(" and {r} CSV rows"));
        let _ = writeln!(
            err,
            "checked {} playbook{}{users}: {} valid, {errors} error{}, {warnings} warning{}",
            files.len(),
            plural(files.len()),
            playbooks_ok,
            plural(errors),
            plural(warnings),
        );
    } else {
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(rendered.as_bytes());
        let _ = out.flush();
    }

    let unreadable = report
        .diagnostics
        .iter()
        .any(|d| d.code.ends_with("::unreadable") || d.code == "cli::no-files");
    if unreadable {
        exit_code::USAGE
    } else if errors > 0 || (args.deny_warnings && warnings > 0) {
        exit_code::PROBLEMS
    } else {
        exit_code::OK
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Expands directories to their YAML files (sorted); keeps files as given.
fn expand(inputs: &[PathBuf]) -> (Vec<(PathBuf, String)>, Report) {
    let mut files = Vec::new();
    let mut report = Report::default();
    for p in inputs {
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(p)
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|f| is_yaml(f))
                .collect();
            found.sort();
            if found.is_empty() {
                report.diagnostics.push(
                    Diagnostic::error(
                        "cli::no-files",
                        p.display().to_string(),
                        "directory has no .yaml or .yml files",
                    )
                    .with_hint("name the playbook files, or a directory that holds them"),
                );
            }
            files.extend(found.into_iter().map(|f| {
                let name = f.display().to_string();
                (f, name)
            }));
        } else {
            files.push((p.clone(), p.display().to_string()));
        }
    }
    debug_assert!(
        report
            .diagnostics
            .iter()
            .all(|d| d.severity == Severity::Error)
    );
    (files, report)
}

fn is_yaml(p: &Path) -> bool {
    matches!(p.extension().and_then(|e| e.to_str()), Some("yaml" | "yml"))
}
