//! What a journal says about a run, in bounded memory: the types every
//! report is rendered from ([`ReportSummary`], [`StepSummary`],
//! [`FailedStep`], [`RunInfo`]) and [`summarize`], which reads them from
//! the journal.
//!
//! Reports read the journal rather than run events so that a resumed run's
//! reports cover the whole run. The journal is streamed, never loaded:
//! memory is the per-step counts and the first [`MAX_FAILURES`] failures.
//! Users are counted by their `UserDone` records: the engine writes exactly
//! one per user (a resumed run skips users that have one).

use std::collections::HashMap;
use std::io;
use std::path::Path;

use crate::journal::for_each_record;
use crate::journal::{Record, StepStatus, UserStatus};
use crate::report::outcome::OutcomeRef;
use crate::report::status::StatusCounts;

/// Failed outcomes kept in a [`ReportSummary`]; the rest are only counted.
pub const MAX_FAILURES: usize = 1000;

/// Steps found in a journal but not in the playbook that still get their
/// own line; outcomes of further unknown steps are left out of the counts.
const MAX_EXTRA_STEPS: usize = 100;

/// What a run was, for the report headers. Times are RFC 3339.
#[derive(Debug, Clone, PartialEq)]
pub struct RunInfo {
    pub run_id: String,
    pub playbook_name: String,
    pub playbook_file: String,
    pub csv_file: String,
    pub dry_run: bool,
    pub tenant: Option<String>,
    /// Each directory described, for a run that addressed more than one
    /// Graph tenant (Active Directory, hybrid); shown instead of `tenant`.
    pub directories: Vec<String>,
    /// `--shard i/N` as text, when the run covered one shard of the CSV.
    pub shard: Option<String>,
    pub started: String,
    pub finished: String,
    /// What the run sent (from the manifest; `None` for a run recorded
    /// before remedy counted it, or one still running).
    pub traffic: Option<crate::rundir::RunTraffic>,
}

/// Outcome counts of one step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StepSummary {
    pub id: String,
    pub title: String,
    pub counts: StatusCounts,
}

/// One failed outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedStep {
    pub row: u64,
    pub user: String,
    pub step: String,
    pub reason: String,
    pub code: Option<String>,
    pub request_id: Option<String>,
}

/// What a journal says about a run, in bounded memory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReportSummary {
    /// Playbook steps in order, then any other step ids the journal holds.
    pub steps: Vec<StepSummary>,
    /// Distinct users with a `UserDone` record.
    pub users: u64,
    /// Of those, the ones whose first `UserDone` says failed.
    pub users_failed: u64,
    /// The first [`MAX_FAILURES`] failed outcomes, in journal order.
    pub failures: Vec<FailedStep>,
    /// Failed outcomes after those.
    pub more_failures: u64,
}

impl ReportSummary {
    /// Every failed outcome, listed or not.
    #[must_use]
    pub fn total_failures(&self) -> u64 {
        self.failures.len() as u64 + self.more_failures
    }
}

/// Just the summary (no files), e.g. for `remedy report`. `steps` =
/// (id, title) in playbook order.
///
/// # Errors
///
/// When the journal cannot be read or is damaged before its last line.
pub fn summarize(journal: &Path, steps: &[(String, String)]) -> io::Result<ReportSummary> {
    let mut tally = Tally::new(steps);
    for_each_record(journal, |record| {
        tally.add(&record);
        Ok(())
    })?;
    Ok(tally.finish())
}

/// The running counts behind a [`ReportSummary`].
pub struct Tally {
    steps: Vec<StepSummary>,
    index: HashMap<String, usize>,
    extra_steps: usize,
    users: u64,
    users_failed: u64,
    failures: Vec<FailedStep>,
    more_failures: u64,
}

impl Tally {
    /// Nothing counted yet; a line per playbook step, `steps` = (id, title)
    /// in playbook order (a repeated id keeps its first title).
    pub fn new(steps: &[(String, String)]) -> Self {
        let mut tally = Tally {
            steps: Vec::with_capacity(steps.len()),
            index: HashMap::with_capacity(steps.len()),
            extra_steps: 0,
            users: 0,
            users_failed: 0,
            failures: Vec::new(),
            more_failures: 0,
        };
        for (id, title) in steps {
            if !tally.index.contains_key(id) {
                tally.index.insert(id.clone(), tally.steps.len());
                tally.steps.push(StepSummary {
                    id: id.clone(),
                    title: title.clone(),
                    ..StepSummary::default()
                });
            }
        }
        tally
    }

    /// Takes one journal record into account.
    pub fn add(&mut self, record: &Record) {
        match record {
            Record::Outcome { .. } => {
                if let Some(outcome) = OutcomeRef::of(record) {
                    self.add_outcome(&outcome);
                }
            }
            Record::UserDone { status, .. } => {
                self.users += 1;
                if *status == UserStatus::Failed {
                    self.users_failed += 1;
                }
            }
            Record::Header(_) | Record::Intent { .. } => {}
        }
    }

    fn add_outcome(&mut self, o: &OutcomeRef<'_>) {
        if let Some(i) = self.step_index(o.step) {
            self.steps[i].counts.add(o.status);
        }
        if o.status == StepStatus::Failed {
            if self.failures.len() < MAX_FAILURES {
                self.failures.push(FailedStep {
                    row: o.row,
                    user: o.user.to_owned(),
                    step: o.step.to_owned(),
                    reason: o.reason.unwrap_or_default().to_owned(),
                    code: o.code.map(str::to_owned),
                    request_id: o.request_id.map(str::to_owned),
                });
            } else {
                self.more_failures += 1;
            }
        }
    }

    /// Where `step` is counted, adding a line for an unknown step while
    /// there is room.
    fn step_index(&mut self, step: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(step) {
            return Some(i);
        }
        if self.extra_steps >= MAX_EXTRA_STEPS {
            return None;
        }
        self.extra_steps += 1;
        let i = self.steps.len();
        self.index.insert(step.to_owned(), i);
        self.steps.push(StepSummary {
            id: step.to_owned(),
            title: step.to_owned(),
            ..StepSummary::default()
        });
        Some(i)
    }

    /// The summary of every record added.
    pub fn finish(self) -> ReportSummary {
        ReportSummary {
            steps: self.steps,
            users: self.users,
            users_failed: self.users_failed,
            failures: self.failures,
            more_failures: self.more_failures,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::fs;

    use super::*;
    use crate::journal::{Before, Header};

    pub fn outcome(row: u64, user: &str, step: &str, status: StepStatus) -> Record {
        Record::Outcome {
            row,
            user: user.into(),
            step: step.into(),
            status,
            reason: (status == StepStatus::Failed).then(|| format!("{user} failed")),
            code: (status == StepStatus::Failed).then(|| "Request_ResourceNotFound".into()),
            request_id: (status == StepStatus::Failed).then(|| format!("rid-{row}")),
            attempts: 1,
        }
    }

    pub fn done(row: u64, user: &str, failed: bool) -> Record {
        Record::UserDone {
            row,
            user: user.into(),
            status: if failed {
                UserStatus::Failed
            } else {
                UserStatus::Done
            },
        }
    }

    pub fn header() -> Record {
        Record::Header(Header {
            format: 1,
            run_id: "run-1".into(),
            playbook_sha256: "p".into(),
            csv_sha256: "c".into(),
            dry_run: false,
            remedy_version: "0.1.0".into(),
        })
    }

    pub fn write_journal(dir: &Path, records: &[Record]) -> std::path::PathBuf {
        let path = dir.join("journal.jsonl");
        let mut bytes = Vec::new();
        for r in records {
            bytes.extend(r.to_line());
        }
        fs::write(&path, bytes).unwrap();
        path
    }

    pub fn steps() -> Vec<(String, String)> {
        vec![
            ("enable".into(), "Allow sign-in".into()),
            ("reset".into(), "Reset the password".into()),
        ]
    }

    pub fn info(dry_run: bool) -> RunInfo {
        RunInfo {
            run_id: "run-1".into(),
            playbook_name: "Unlock accounts".into(),
            playbook_file: "workflows/unlock.yaml".into(),
            csv_file: "users.csv".into(),
            dry_run,
            tenant: Some("contoso.onmicrosoft.com".into()),
            directories: Vec::new(),
            shard: None,
            started: "2025-01-01T10:00:00Z".into(),
            finished: "2025-01-01T10:05:00Z".into(),
            traffic: None,
        }
    }

    /// A small run: alice fine, bob fails `reset`, carol's second step
    /// is skipped; interleaved like a concurrent run.
    pub fn sample() -> Vec<Record> {
        vec![
            header(),
            Record::Intent {
                row: 2,
                user: "alice@contoso.com".into(),
                step: "reset".into(),
                user_id: "id-a".into(),
                before: Before::default(),
                at: None,
            },
            outcome(2, "alice@contoso.com", "enable", StepStatus::Ok),
            outcome(3, "bob@contoso.com", "enable", StepStatus::Changed),
            outcome(2, "alice@contoso.com", "reset", StepStatus::Changed),
            done(2, "alice@contoso.com", false),
            outcome(3, "bob@contoso.com", "reset", StepStatus::Failed),
            outcome(4, "carol@contoso.com", "enable", StepStatus::Ok),
            done(3, "bob@contoso.com", true),
            outcome(4, "carol@contoso.com", "reset", StepStatus::Skipped),
            done(4, "carol@contoso.com", false),
        ]
    }

    #[test]
    fn summarize_counts_per_step_and_user() {
        let dir = tempfile::tempdir().unwrap();
        let journal = write_journal(dir.path(), &sample());
        let s = summarize(&journal, &steps()).unwrap();
        assert_eq!(s.users, 3);
        assert_eq!(s.users_failed, 1);
        assert_eq!(s.steps.len(), 2);
        let enable = &s.steps[0];
        assert_eq!(
            (enable.id.as_str(), enable.title.as_str()),
            ("enable", "Allow sign-in")
        );
        let c = &enable.counts;
        assert_eq!((c.ok, c.changed, c.failed, c.skipped), (2, 1, 0, 0));
        let reset = &s.steps[1];
        let c = &reset.counts;
        assert_eq!((c.ok, c.changed, c.failed, c.skipped), (0, 1, 1, 1));
        assert_eq!(s.failures.len(), 1);
        let f = &s.failures[0];
        assert_eq!(
            (f.row, f.user.as_str(), f.step.as_str()),
            (3, "bob@contoso.com", "reset")
        );
        assert_eq!(f.code.as_deref(), Some("Request_ResourceNotFound"));
        assert_eq!(f.request_id.as_deref(), Some("rid-3"));
        assert_eq!(s.more_failures, 0);
    }

    #[test]
    fn failures_past_the_cap_are_only_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = vec![header()];
        for i in 0..(MAX_FAILURES as u64 + 5) {
            records.push(outcome(
                i + 2,
                &format!("u{i}@x"),
                "reset",
                StepStatus::Failed,
            ));
        }
        let journal = write_journal(dir.path(), &records);
        let s = summarize(&journal, &steps()).unwrap();
        assert_eq!(s.failures.len(), MAX_FAILURES);
        assert_eq!(s.more_failures, 5);
        assert_eq!(s.total_failures(), MAX_FAILURES as u64 + 5);
        assert_eq!(s.steps[1].counts.failed, MAX_FAILURES as u64 + 5);
    }

    #[test]
    fn users_are_counted_by_their_done_records() {
        let dir = tempfile::tempdir().unwrap();
        let records = [
            done(2, "Alice@Contoso.com", true),
            done(3, "bob@contoso.com", false),
        ];
        let journal = write_journal(dir.path(), &records);
        let s = summarize(&journal, &steps()).unwrap();
        assert_eq!((s.users, s.users_failed), (2, 1));
    }

    #[test]
    fn unknown_steps_get_a_line_of_their_own_up_to_a_cap() {
        let dir = tempfile::tempdir().unwrap();
        let mut records = vec![outcome(2, "a@x", "legacy", StepStatus::Ok)];
        for i in 0..MAX_EXTRA_STEPS + 3 {
            records.push(outcome(2, "a@x", &format!("s{i}"), StepStatus::Ok));
        }
        let journal = write_journal(dir.path(), &records);
        let s = summarize(&journal, &steps()).unwrap();
        assert_eq!(s.steps.len(), 2 + MAX_EXTRA_STEPS);
        assert_eq!(s.steps[2].id, "legacy");
        assert_eq!(s.steps[2].title, "legacy");
    }

    #[test]
    fn duplicate_playbook_step_ids_keep_the_first() {
        let steps = vec![
            ("a".to_owned(), "First".to_owned()),
            ("a".to_owned(), "Second".to_owned()),
        ];
        let tally = Tally::new(&steps);
        assert_eq!(tally.steps.len(), 1);
        assert_eq!(tally.steps[0].title, "First");
    }
}
