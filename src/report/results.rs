//! A run's report files, regenerated from its journal: `results.csv`,
//! `results.jsonl`, `junit.xml` and `summary.md`, and the copy of
//! `summary.md` for GitHub's job summary. The summary they share is read
//! in `summary`; the file formats live in `rows`, `junit` and `markdown`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use crate::journal::for_each_record;
use crate::report::outcome::OutcomeRef;
use crate::report::summary::{ReportSummary, RunInfo, Tally};
use crate::report::{junit, markdown, rows};

/// Reads the journal and writes `results.csv`, `results.jsonl`,
/// `junit.xml` and `summary.md` into `out_dir` (created if missing);
/// appends `summary.md` to the file named by `$GITHUB_STEP_SUMMARY` when
/// that variable is set and non-empty. Returns the summary. `steps` =
/// (id, title) in playbook order.
///
/// # Errors
///
/// When the journal cannot be read or is damaged before its last line, or
/// a report file cannot be written.
pub fn write_reports(
    journal: &Path,
    steps: &[(String, String)],
    info: &RunInfo,
    out_dir: &Path,
) -> io::Result<ReportSummary> {
    let step_summary = std::env::var_os("GITHUB_STEP_SUMMARY").filter(|v| !v.is_empty());
    write_reports_to(
        journal,
        steps,
        info,
        out_dir,
        step_summary.as_deref().map(Path::new),
    )
}

/// [`write_reports`] with the step-summary file passed in, so tests need
/// not touch the process environment.
fn write_reports_to(
    journal: &Path,
    steps: &[(String, String)],
    info: &RunInfo,
    out_dir: &Path,
    step_summary: Option<&Path>,
) -> io::Result<ReportSummary> {
    fs::create_dir_all(out_dir)?;
    let mut tally = Tally::new(steps);
    let mut csv = rows::CsvOut::create(&out_dir.join("results.csv"))?;
    let mut jsonl = rows::JsonlOut::create(&out_dir.join("results.jsonl"))?;
    for_each_record(journal, |record| {
        tally.add(&record);
        if let Some(outcome) = OutcomeRef::of(&record) {
            csv.write(&outcome)?;
            jsonl.write(&outcome)?;
        }
        Ok(())
    })?;
    csv.finish()?;
    jsonl.finish()?;
    let summary = tally.finish();

    junit::write(journal, &summary, info, &out_dir.join("junit.xml"))?;
    let md = markdown::render(&summary, info);
    crate::atomic_file::write(&out_dir.join("summary.md"), md.as_bytes())?;
    if let Some(path) = step_summary {
        let mut file = OpenOptions::new().create(true).append(true).open(path)?;
        file.write_all(md.as_bytes())?;
        file.write_all(b"\n")?;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::summary::tests::{info, sample, steps, write_journal};

    #[test]
    fn write_reports_writes_every_file_and_appends_the_step_summary() {
        let dir = tempfile::tempdir().unwrap();
        let journal = write_journal(dir.path(), &sample());
        let out = dir.path().join("reports/nested");
        let gh = dir.path().join("step_summary.md");
        fs::write(&gh, "earlier step\n").unwrap();
        let s = write_reports_to(&journal, &steps(), &info(false), &out, Some(&gh)).unwrap();
        assert_eq!(s.users, 3);
        for name in ["results.csv", "results.jsonl", "junit.xml", "summary.md"] {
            assert!(out.join(name).is_file(), "{name} missing");
        }
        let csv = fs::read_to_string(out.join("results.csv")).unwrap();
        assert_eq!(csv.lines().count(), 1 + 6, "{csv}");
        let jsonl = fs::read_to_string(out.join("results.jsonl")).unwrap();
        assert_eq!(jsonl.lines().count(), 6);
        let md = fs::read_to_string(out.join("summary.md")).unwrap();
        let appended = fs::read_to_string(&gh).unwrap();
        assert!(
            appended.starts_with("earlier step\n# remedy run: Unlock accounts"),
            "{appended}"
        );
        assert!(appended.contains(&md));
    }

    #[test]
    fn write_reports_fails_cleanly_without_a_journal() {
        let dir = tempfile::tempdir().unwrap();
        let err = write_reports_to(
            &dir.path().join("missing.jsonl"),
            &steps(),
            &info(false),
            &dir.path().join("out"),
            None,
        )
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::NotFound);
    }

    #[test]
    fn an_empty_journal_gives_an_empty_summary() {
        let dir = tempfile::tempdir().unwrap();
        let journal = write_journal(dir.path(), &[]);
        let s =
            write_reports_to(&journal, &steps(), &info(true), &dir.path().join("o"), None).unwrap();
        assert_eq!(s.users, 0);
        assert_eq!(s.steps.len(), 2);
        assert!(s.failures.is_empty());
    }
}
