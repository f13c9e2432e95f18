//! The plan file: JSON Lines, one object per line tagged by `type`. A
//! `plan` header (what the plan is bound to), one `user` line per CSV row
//! in the order the dry run finished them, and an `end` line with the
//! totals; a file without its `end` line is incomplete and never applied.
//!
//! [`PlanWriter`] streams the lines to a hidden temporary file beside the
//! target and renames it into place only once the `end` line is fsynced,
//! so a plan file that exists is a whole plan. No password is ever part of
//! a plan: a reset is recorded as "would be reset".

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub use crate::directory::Change;
use crate::directory::Recorded;
use crate::journal::Before;
use crate::rundir::Inputs;

/// Version of the plan format, in the header line.
pub const FORMAT: u32 = 1;

/// One line of a plan file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum PlanLine {
    Plan(PlanHeader),
    User(PlanUser),
    End(PlanEnd),
}

impl PlanLine {
    /// The JSON line, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec(self).unwrap_or_default();
        v.push(b'\n');
        v
    }
}

/// What the plan is bound to; `apply` refuses it when any of it changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanHeader {
    pub format: u32,
    pub remedy_version: String,
    /// RFC 3339, UTC.
    pub created: String,
    /// The playbook and the CSV as given to `remedy plan`, and their
    /// SHA-256.
    #[serde(flatten)]
    pub inputs: Inputs,
    /// The directory the plan read (its realm is the tenant id, `tid`, of
    /// the access token the plan was made with).
    #[serde(flatten)]
    pub target: Recorded,
    /// A hybrid playbook: every target, in the playbook's order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<crate::directory::Target>,
    /// The dry run that produced the plan (its journal and reports).
    pub run_id: String,
    /// The playbook's steps, in order.
    pub steps: Vec<PlanStepInfo>,
}

/// A step as the plan names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStepInfo {
    pub id: String,
    pub title: String,
    /// `ensure: …` or `action: …`.
    pub kind: String,
}

/// What the dry run found for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanUser {
    /// 1-based spreadsheet row.
    pub row: u64,
    /// The CSV's key cell.
    pub user: String,
    pub result: UserResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// The user's state when the plan was made (in the first target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Before>,
    /// A hybrid playbook: the same person's account in each further
    /// target, in the playbook's target order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub others: Vec<PlanAccount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// One entry per playbook step, in playbook order.
    pub steps: Vec<PlanStep>,
}

/// A person's account in a further target of a hybrid playbook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanAccount {
    /// The target's name in the playbook.
    pub target: String,
    pub user_id: String,
    pub before: Before,
}

/// A user's overall result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserResult {
    /// At least one step would change the user.
    WouldChange,
    /// Every step is already satisfied or does not apply.
    NoChange,
    NotFound,
    /// A listed user or a privileged account (or one that cannot be told
    /// apart from one): never touched.
    Protected,
    /// The user could not be planned (an error other than not found).
    Failed,
}

/// One step's result for one user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    pub step: String,
    pub result: StepResult,
    /// Before → after of the property an `ensure:` step sets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<Change>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A step's result in the plan's vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepResult {
    WouldChange,
    /// Already in the desired state.
    Ok,
    ConditionFalse,
    Protected,
    NotFound,
    /// Not run because an earlier step of the user failed.
    Skipped,
    Failed,
}

/// The last line: totals, and proof that the plan is complete.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanEnd {
    pub users: u64,
    /// Users with at least one step that would change.
    pub would_change: u64,
    /// Steps that would change, over every user.
    pub changes: u64,
    pub no_change: u64,
    pub not_found: u64,
    pub protected: u64,
    pub failed: u64,
}

impl PlanEnd {
    fn count(&mut self, user: &PlanUser) {
        self.users += 1;
        self.changes += user
            .steps
            .iter()
            .filter(|s| s.result == StepResult::WouldChange)
            .count() as u64;
        *match user.result {
            UserResult::WouldChange => &mut self.would_change,
            UserResult::NoChange => &mut self.no_change,
            UserResult::NotFound => &mut self.not_found,
            UserResult::Protected => &mut self.protected,
            UserResult::Failed => &mut self.failed,
        } += 1;
    }
}

struct Inner {
    out: BufWriter<File>,
    end: PlanEnd,
    error: Option<io::Error>,
}

/// Streams a plan to disk: user lines are written as the dry run finishes
/// them (memory holds none of them), and [`PlanWriter::finish`] makes the
/// file appear, complete, under its final name.
pub struct PlanWriter {
    inner: Mutex<Inner>,
    tmp: PathBuf,
    path: PathBuf,
}

impl PlanWriter {
    /// Starts the plan `path` (mode 0600: it names users) with its header.
    pub fn create(path: &Path, header: &PlanHeader) -> io::Result<Self> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::other("the plan path names no file"))?;
        let mut tmp_name = std::ffi::OsString::from(".");
        tmp_name.push(name);
        tmp_name.push(".partial");
        let tmp = path.with_file_name(tmp_name);
        let mut opts = OpenOptions::new();
        opts.create(true).write(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut out = BufWriter::with_capacity(1 << 16, opts.open(&tmp)?);
        out.write_all(&PlanLine::Plan(header.clone()).to_line())?;
        Ok(PlanWriter {
            inner: Mutex::new(Inner {
                out,
                end: PlanEnd::default(),
                error: None,
            }),
            tmp,
            path: path.to_owned(),
        })
    }

    /// Appends a user's line. A write error is kept and returned by
    /// [`PlanWriter::finish`], so the plan is then never completed.
    pub fn write(&self, user: PlanUser) {
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if inner.error.is_some() {
            return;
        }
        inner.end.count(&user);
        let line = PlanLine::User(user).to_line();
        if let Err(e) = inner.out.write_all(&line) {
            inner.error = Some(e);
        }
    }

    /// Writes the end line, fsyncs, and renames the file into place.
    pub fn finish(self) -> io::Result<PlanEnd> {
        let Inner {
            mut out,
            end,
            error,
        } = self
            .inner
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let result = (|| {
            if let Some(e) = error {
                return Err(e);
            }
            out.write_all(&PlanLine::End(end.clone()).to_line())?;
            let file = out.into_inner().map_err(io::IntoInnerError::into_error)?;
            file.sync_all()?;
            std::fs::rename(&self.tmp, &self.path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        result.map(|()| end)
    }

    /// Drops an unfinished plan (the dry run was interrupted or stopped).
    pub fn abandon(self) {
        drop(self.inner);
        let _ = std::fs::remove_file(&self.tmp);
    }
}

/// A plan header for tests: tenant `tenant`, made at `created`, no steps.
#[cfg(test)]
pub(crate) fn test_header(tenant: Option<&str>, created: &str) -> PlanHeader {
    PlanHeader {
        format: FORMAT,
        remedy_version: "0.1.0".into(),
        created: created.into(),
        inputs: Inputs {
            playbook_name: "p".into(),
            playbook_file: "p.yaml".into(),
            playbook_sha256: "aa".into(),
            csv_file: "u.csv".into(),
            csv_sha256: "bb".into(),
        },
        targets: Vec::new(),
        target: Recorded(crate::directory::Target {
            provider: "graph".into(),
            endpoint: "http://127.0.0.1:1".into(),
            realm: tenant.map(Into::into),
            principal: None,
            name: None,
        }),
        run_id: "r".into(),
        steps: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> PlanHeader {
        let mut h = test_header(Some("t"), "2026-01-01T00:00:00Z");
        h.steps = vec![PlanStepInfo {
            id: "enable".into(),
            title: "enable".into(),
            kind: "ensure: sign_in_allowed".into(),
        }];
        h
    }

    fn user(row: u64, result: StepResult) -> PlanUser {
        PlanUser {
            row,
            user: format!("u{row}@x.com"),
            result: if result == StepResult::WouldChange {
                UserResult::WouldChange
            } else {
                UserResult::NoChange
            },
            user_id: Some(format!("id{row}")),
            before: None,
            others: Vec::new(),
            reason: None,
            steps: vec![PlanStep {
                step: "enable".into(),
                result,
                change: Some(Change {
                    property: "accountEnabled".into(),
                    before: Some(crate::directory::Value::Bool(false)),
                    after: crate::directory::Value::Bool(true),
                }),
                detail: None,
            }],
        }
    }

    #[test]
    fn a_plan_appears_only_when_finished() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let w = PlanWriter::create(&path, &header()).unwrap();
        w.write(user(2, StepResult::WouldChange));
        w.write(user(3, StepResult::Ok));
        assert!(!path.exists(), "no plan file before finish");
        let end = w.finish().unwrap();
        assert_eq!((end.users, end.would_change, end.changes), (2, 1, 1));
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<PlanLine> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert!(matches!(lines[0], PlanLine::Plan(_)));
        assert_eq!(lines[1], PlanLine::User(user(2, StepResult::WouldChange)));
        assert!(matches!(lines[3], PlanLine::End(_)));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn an_abandoned_plan_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let w = PlanWriter::create(&path, &header()).unwrap();
        w.write(user(2, StepResult::WouldChange));
        w.abandon();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
