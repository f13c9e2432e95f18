//! `remedy runs`: list the runs recorded in a state directory, newest
//! first, from their manifests (never their journals or secrets).

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::Serialize;

use crate::exit_code;
use crate::rundir::{self, Counts, Manifest, RunStatus, StateError};

/// List past runs: id, status, mode, shard, times and counts.
///
/// Reads only the manifests under STATE_DIR/runs/ and takes no lock, so it
/// works while a run is in progress. A run recorded as running while no
/// process holds the state directory was killed: it is shown as
/// `abandoned` (resume it with `remedy run … --resume ID`).
#[derive(Debug, Args)]
#[command(after_help = "Examples:
  remedy runs
  remedy runs --state-dir /var/lib/remedy --format json | jq '.[0].id'
  remedy report \"$(remedy runs --format json | jq -r '.[0].id')\" --format md")]
pub struct RunsArgs {
    /// The state directory the runs were recorded in.
    #[arg(long, value_name = "DIR", default_value = ".remedy")]
    pub state_dir: PathBuf,

    /// `text`: an aligned table; `json`: an array of objects, newest first.
    #[arg(long, value_enum, default_value_t = RunsFormat::Text)]
    pub format: RunsFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunsFormat {
    Text,
    Json,
}

/// One line of the listing.
#[derive(Debug, Serialize)]
struct Listed {
    id: String,
    /// `running`, `completed`, `interrupted`, `stopped_by_guard`,
    /// `abandoned` (recorded as running, but no process holds the state
    /// directory) or `unreadable` (the manifest cannot be read).
    status: &'static str,
    /// `live` or `dry_run`.
    mode: Option<&'static str>,
    emulated: Option<bool>,
    shard: Option<String>,
    started: Option<String>,
    finished: Option<String>,
    playbook: Option<String>,
    csv: Option<String>,
    tenant: Option<String>,
    counts: Option<Counts>,
}

pub fn run(args: &RunsArgs) -> u8 {
    let runs = match rundir::list_runs(&args.state_dir) {
        Ok(runs) => runs,
        Err(StateError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
            Vec::new()
        }
        Err(e) => {
            eprintln!("error: {e}");
            eprintln!("  hint: {}", e.hint());
            return exit_code::USAGE;
        }
    };
    let busy = rundir::is_locked(&args.state_dir);
    let listed: Vec<Listed> = runs
        .iter()
        .rev()
        .map(|r| listed(&r.id, r.read_manifest().ok(), busy))
        .collect();
    let text = match args.format {
        RunsFormat::Json => {
            let mut s = serde_json::to_string_pretty(&listed).unwrap_or_default();
            s.push('\n');
            s
        }
        RunsFormat::Text if listed.is_empty() => {
            eprintln!("no runs recorded in {}", args.state_dir.display());
            return exit_code::OK;
        }
        RunsFormat::Text => render_text(&listed, &args.state_dir),
    };
    super::write_stdout(text.as_bytes())
}

fn listed(id: &str, m: Option<Manifest>, busy: bool) -> Listed {
    let Some(m) = m else {
        return Listed {
            id: id.to_owned(),
            status: "unreadable",
            mode: None,
            emulated: None,
            shard: None,
            started: None,
            finished: None,
            playbook: None,
            csv: None,
            tenant: None,
            counts: None,
        };
    };
    let status = match m.status {
        RunStatus::Running if !busy => "abandoned",
        RunStatus::Running => "running",
        RunStatus::Completed => "completed",
        RunStatus::Interrupted => "interrupted",
        RunStatus::StoppedByGuard => "stopped_by_guard",
    };
    Listed {
        id: id.to_owned(),
        status,
        mode: Some(if m.dry_run { "dry_run" } else { "live" }),
        emulated: Some(m.emulated),
        shard: m.shard.map(|s| s.to_string()),
        started: Some(m.started),
        finished: m.finished,
        playbook: Some(m.inputs.playbook_file),
        csv: Some(m.inputs.csv_file),
        tenant: m.target.0.realm,
        counts: Some(m.counts),
    }
}

/// The table: one row per run, columns padded to their widest cell.
fn render_text(listed: &[Listed], state_dir: &Path) -> String {
    let header = [
        "RUN", "STATUS", "MODE", "SHARD", "STARTED", "FINISHED", "USERS", "DONE", "FAILED",
        "PLAYBOOK",
    ];
    let dash = || "-".to_owned();
    let mut rows: Vec<Vec<String>> = vec![header.iter().map(|h| (*h).to_owned()).collect()];
    for l in listed {
        let mode = match (l.mode, l.emulated) {
            (Some("dry_run"), Some(true)) => "dry run (emulator)",
            (Some("dry_run"), _) => "dry run",
            (Some(_), Some(true)) => "real (emulator)",
            (Some(_), _) => "real",
            (None, _) => "-",
        };
        let count =
            |f: fn(&Counts) -> u64| l.counts.as_ref().map_or_else(dash, |c| f(c).to_string());
        rows.push(vec![
            l.id.clone(),
            l.status.to_owned(),
            mode.to_owned(),
            l.shard.clone().unwrap_or_else(dash),
            l.started.clone().unwrap_or_else(dash),
            l.finished.clone().unwrap_or_else(dash),
            count(|c| c.users),
            count(|c| c.processed + c.done_earlier),
            count(|c| c.failed),
            crate::report::one_line(l.playbook.as_deref().unwrap_or("-")).into_owned(),
        ]);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(&format!("{cell:<w$}  ", w = widths[i]));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out.push_str(&format!(
        "{} run{} in {}; DONE counts users finished, by this run or an earlier attempt it resumed\n",
        listed.len(),
        if listed.len() == 1 { "" } else { "s" },
        state_dir.display()
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_killed_run_is_abandoned_and_a_live_one_running() {
        let m: Manifest = serde_json::from_str(
            r#"{"run_id":"r1","remedy_version":"0.1.0","playbook_name":"p",
            "playbook_file":"p.yaml","playbook_sha256":"a","csv_file":"u.csv",
            "csv_sha256":"b","tenant":null,"app_id":null,"graph_url":"http://127.0.0.1:1",
            "emulated":false,"dry_run":true,"started":"2025-01-01T00:00:00Z",
            "finished":null,"status":"running",
            "counts":{"users":3,"processed":1,"failed":0,"done_earlier":1}}"#,
        )
        .unwrap();
        assert_eq!(listed("r1", Some(m.clone()), false).status, "abandoned");
        let l = listed("r1", Some(m), true);
        assert_eq!((l.status, l.mode), ("running", Some("dry_run")));
        let text = render_text(&[l, listed("r0", None, true)], Path::new(".remedy"));
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("RUN  STATUS      MODE"), "{text}");
        assert!(lines[1].contains("running     dry run  -"), "{text}");
        assert!(lines[1].contains(" 3      2     0       p.yaml"), "{text}");
        assert!(lines[2].starts_with("r0   unreadable"), "{text}");
        assert!(lines[3].starts_with("2 runs in .remedy;"), "{text}");
    }
}
