//! A plan read back for `remedy apply`: the header, the end line's totals,
//! and, for each user with something to do or to re-check, what each step
//! was planned to be. Users are kept by the 64-bit hash of their key (like
//! `--resume`), with a mark per step and the property change the plan
//! recorded for desired-state steps, so a million-user plan fits in a few
//! tens of megabytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use crate::directory::{Property, value_hash};
use crate::journal::key_hash;
use crate::plan::file::{Change, FORMAT, PlanEnd, PlanHeader, PlanLine, PlanUser, StepResult};

/// Longest plan line read; a longer one is damage.
const MAX_LINE: usize = 1 << 20;

/// What the plan says about one step of one user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    /// The step would change the user: apply may do it.
    Change,
    /// Already in the desired state: apply re-checks that it still is.
    Ok,
    /// Nothing to do (condition false, protected, not found, failed).
    Nothing,
}

/// What the plan says about one step of a planned user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedStep {
    pub mark: Mark,
    /// The property change the plan recorded (desired states that would
    /// change): what apply's drift check compares with the account now.
    pub change: Option<Change>,
}

/// A user the plan has something for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedUser {
    /// Hash of the object id read when planning: a different id now means
    /// the account was replaced.
    pub user_id: Option<u64>,
    /// Hashes ([`value_hash`]) of the account's properties as the plan
    /// read them (its `before`), by [`Property::index`]: what a one-shot
    /// action's drift check compares with (8 bytes each, not the text).
    pub saw: Option<[u64; Property::ALL.len()]>,
    /// A hybrid playbook: `user_id` and `saw` of the person's account in
    /// each further target, in the playbook's target order.
    pub others: Vec<(Option<u64>, Option<[u64; Property::ALL.len()]>)>,
    /// One entry per playbook step.
    pub steps: Box<[PlannedStep]>,
}

/// A plan loaded for `apply`.
#[derive(Debug)]
pub struct PlanIndex {
    pub header: PlanHeader,
    pub end: PlanEnd,
    users: HashMap<u64, PlannedUser>,
}

/// Why a plan cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("cannot read the plan {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("{path} line {line} is not a plan line ({message})")]
    Malformed {
        path: PathBuf,
        line: u64,
        message: String,
    },
    #[error("{path} is plan format {found}; this remedy reads format {FORMAT}")]
    Format { path: PathBuf, found: u32 },
    #[error("{path} is incomplete (no end line): the plan was cut short")]
    Incomplete { path: PathBuf },
    #[error("{path} lists users whose keys hash alike ({first} and {second}); refusing to guess")]
    Collision {
        path: PathBuf,
        first: String,
        second: String,
    },
    #[error("the playbook changed since the plan was made (SHA-256 {found}, plan {planned})")]
    PlaybookChanged { planned: String, found: String },
    #[error("the CSV changed since the plan was made (SHA-256 {found}, plan {planned})")]
    CsvChanged { planned: String, found: String },
    #[error("the plan was made for tenant {planned}, but the credentials are for tenant {found}")]
    TenantDiffers { planned: String, found: String },
    #[error("the plan was made {age} ago, more than --max-age {max} allows")]
    Expired { age: String, max: String },
    #[error("the plan's creation time `{0}` is not RFC 3339 or lies in the future")]
    BadTime(String),
    #[error("{file} was already applied by run {run} ({status}); a plan is applied at most once")]
    AlreadyApplied {
        file: String,
        run: String,
        status: String,
        /// The run did not complete: `--resume` of it finishes the plan.
        resumable: bool,
    },
}

impl PlanError {
    /// A stale plan (bound inputs, tenant or age changed, or applied
    /// already), as opposed to an unreadable one.
    pub fn is_stale(&self) -> bool {
        matches!(
            self,
            PlanError::PlaybookChanged { .. }
                | PlanError::CsvChanged { .. }
                | PlanError::TenantDiffers { .. }
                | PlanError::Expired { .. }
                | PlanError::AlreadyApplied { .. }
        )
    }

    pub fn hint(&self) -> &'static str {
        if let PlanError::AlreadyApplied { resumable, .. } = self {
            return if *resumable {
                "finish that run with `remedy apply PLAN --resume RUN`, or make a new plan with `remedy plan`, review it, then apply that one"
            } else {
                "make a new plan with `remedy plan`, review it, then apply that one; applying this one again would reset the passwords in its secrets.csv again"
            };
        }
        if self.is_stale() {
            "make a new plan with `remedy plan`, review it, then apply that one"
        } else {
            "make a new plan with `remedy plan`"
        }
    }
}

impl PlanIndex {
    /// Reads the plan at `path`, streaming its user lines.
    pub fn read(path: &Path) -> Result<Self, PlanError> {
        let io_err = |source| PlanError::Io {
            path: path.to_owned(),
            source,
        };
        let malformed = |line, message: String| PlanError::Malformed {
            path: path.to_owned(),
            line,
            message,
        };
        let mut reader = BufReader::with_capacity(1 << 16, File::open(path).map_err(io_err)?);
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        let mut header: Option<PlanHeader> = None;
        let mut end: Option<PlanEnd> = None;
        let mut users: HashMap<u64, PlannedUser> = HashMap::new();
        let mut keys: HashMap<u64, String> = HashMap::new();
        loop {
            buf.clear();
            let n = io::Read::take(&mut reader, MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(io_err)?;
            if n == 0 {
                break;
            }
            line_no += 1;
            if n > MAX_LINE {
                return Err(malformed(line_no, "line too long".into()));
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            let line: PlanLine =
                serde_json::from_slice(&buf).map_err(|e| malformed(line_no, e.to_string()))?;
            match (line, &header, &end) {
                (PlanLine::Plan(h), None, None) => {
                    if h.format != FORMAT {
                        return Err(PlanError::Format {
                            path: path.to_owned(),
                            found: h.format,
                        });
                    }
                    header = Some(h);
                }
                (PlanLine::User(u), Some(h), None) => {
                    if u.steps.len() != h.steps.len() {
                        return Err(malformed(
                            line_no,
                            format!(
                                "{} steps, the header lists {}",
                                u.steps.len(),
                                h.steps.len()
                            ),
                        ));
                    }
                    let Some(planned) = PlannedUser::of(&u) else {
                        continue;
                    };
                    let hash = key_hash(&u.user);
                    if let Some(first) = keys.get(&hash)
                        && !first.eq_ignore_ascii_case(&u.user)
                    {
                        return Err(PlanError::Collision {
                            path: path.to_owned(),
                            first: first.clone(),
                            second: u.user,
                        });
                    }
                    keys.insert(hash, u.user.clone());
                    users.insert(hash, planned);
                }
                (PlanLine::End(e), Some(_), None) => end = Some(e),
                (_, None, _) => {
                    return Err(malformed(
                        line_no,
                        "the first line must be the plan header".into(),
                    ));
                }
                (_, _, Some(_)) => {
                    return Err(malformed(line_no, "a line after the end line".into()));
                }
                (PlanLine::Plan(_), Some(_), None) => {
                    return Err(malformed(line_no, "a second header".into()));
                }
            }
        }
        let header = header.ok_or_else(|| malformed(1, "empty file".into()))?;
        let end = end.ok_or_else(|| PlanError::Incomplete {
            path: path.to_owned(),
        })?;
        Ok(PlanIndex { header, end, users })
    }

    /// Forgets what the plan saw of the accounts' properties, so that no
    /// one-shot action drifts on a timestamp: for `--emulate`, whose
    /// directory is seeded afresh (times relative to its start) by every
    /// command, so a plan's times never match the apply's.
    pub fn forget_what_it_saw(&mut self) {
        for u in self.users.values_mut() {
            u.saw = None;
            for o in &mut u.others {
                o.1 = None;
            }
        }
    }

    /// What the plan says about `key`; `None` when it has nothing to do
    /// or to re-check for that user.
    pub fn get(&self, key: &str) -> Option<&PlannedUser> {
        self.users.get(&key_hash(key))
    }
}

impl PlannedUser {
    /// The steps of a plan line, or `None` when every step is `Nothing`.
    fn of(u: &PlanUser) -> Option<Self> {
        let steps: Box<[PlannedStep]> = u
            .steps
            .iter()
            .map(|s| {
                let mark = match s.result {
                    StepResult::WouldChange => Mark::Change,
                    StepResult::Ok => Mark::Ok,
                    _ => Mark::Nothing,
                };
                PlannedStep {
                    mark,
                    change: (mark == Mark::Change).then(|| s.change.clone()).flatten(),
                }
            })
            .collect();
        steps
            .iter()
            .any(|s| s.mark != Mark::Nothing)
            .then(|| PlannedUser {
                user_id: u.user_id.as_deref().map(key_hash),
                saw: u
                    .before
                    .as_ref()
                    .map(|b| Property::ALL.map(|p| value_hash(b.get(p).as_ref()))),
                others: u
                    .others
                    .iter()
                    .map(|o| {
                        (
                            Some(key_hash(&o.user_id)),
                            Some(Property::ALL.map(|p| value_hash(o.before.get(p).as_ref()))),
                        )
                    })
                    .collect(),
                steps,
            })
    }

    /// The hash of what the plan saw of `p` in target `target`, when it
    /// recorded the account.
    pub fn saw(&self, target: usize, p: Property) -> Option<u64> {
        let saw = match target {
            0 => self.saw,
            t => self.others.get(t - 1).and_then(|o| o.1),
        };
        saw.map(|s| s[p.index()])
    }

    /// Step `i`'s mark (`Nothing` past the end).
    pub fn mark(&self, i: usize) -> Mark {
        self.steps.get(i).map_or(Mark::Nothing, |s| s.mark)
    }

    /// Whether `id` is the account the plan read in target `target`.
    pub fn same_account(&self, target: usize, id: &str) -> bool {
        let planned = match target {
            0 => self.user_id,
            t => self.others.get(t - 1).and_then(|o| o.0),
        };
        planned.is_none_or(|h| h == key_hash(id))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Before;
    use crate::plan::file::{PlanStep, PlanStepInfo, UserResult};
    use crate::plan::{PlanWriter, StepResult};

    fn header(steps: usize) -> PlanHeader {
        let mut h = crate::plan::file::test_header(None, "2026-01-01T00:00:00Z");
        h.steps = (0..steps)
            .map(|i| PlanStepInfo {
                id: format!("s{i}"),
                title: format!("s{i}"),
                kind: "action: revoke_sessions".into(),
            })
            .collect();
        h
    }

    fn user(name: &str, results: &[StepResult]) -> PlanUser {
        PlanUser {
            row: 2,
            user: name.into(),
            result: UserResult::WouldChange,
            user_id: Some(format!("id-{name}")),
            before: Some(Before {
                account_enabled: Some(false),
                ..Before::default()
            }),
            others: Vec::new(),
            reason: None,
            steps: results
                .iter()
                .enumerate()
                .map(|(i, r)| PlanStep {
                    step: format!("s{i}"),
                    result: *r,
                    change: None,
                    detail: None,
                })
                .collect(),
        }
    }

    #[test]
    fn keeps_only_users_with_something_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let w = PlanWriter::create(&path, &header(2)).unwrap();
        w.write(user("A@x.com", &[StepResult::WouldChange, StepResult::Ok]));
        w.write(user(
            "b@x.com",
            &[StepResult::NotFound, StepResult::NotFound],
        ));
        w.finish().unwrap();
        let ix = PlanIndex::read(&path).unwrap();
        let a = ix.get("a@X.com").unwrap();
        assert_eq!((a.mark(0), a.mark(1)), (Mark::Change, Mark::Ok));
        assert_eq!(a.steps[0].change, None);
        assert!(a.same_account(0, "id-A@x.com"));
        assert!(!a.same_account(0, "someone-else"));
        assert!(ix.get("b@x.com").is_none());
        assert_eq!(ix.end.users, 2);
        // What the plan saw is kept as hashes of the values.
        assert_eq!(
            a.saw(0, Property::Enabled),
            Some(value_hash(Some(&crate::directory::Value::Bool(false))))
        );
        assert_eq!(a.saw(0, Property::PasswordChanged), Some(value_hash(None)));
    }

    #[test]
    fn an_incomplete_or_foreign_plan_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("plan.json");
        let head = PlanLine::Plan(header(1)).to_line();
        std::fs::write(&path, &head).unwrap();
        assert!(matches!(
            PlanIndex::read(&path),
            Err(PlanError::Incomplete { .. })
        ));
        std::fs::write(&path, b"{\"type\":\"end\",\"users\":0}\n").unwrap();
        assert!(matches!(
            PlanIndex::read(&path),
            Err(PlanError::Malformed { line: 1, .. })
        ));
        let mut data = head.clone();
        data.extend(PlanLine::User(user("a@x.com", &[StepResult::Ok, StepResult::Ok])).to_line());
        std::fs::write(&path, &data).unwrap();
        assert!(matches!(
            PlanIndex::read(&path),
            Err(PlanError::Malformed { line: 2, .. })
        ));
        let mut h = header(1);
        h.format = 99;
        std::fs::write(&path, PlanLine::Plan(h).to_line()).unwrap();
        assert!(matches!(
            PlanIndex::read(&path),
            Err(PlanError::Format { found: 99, .. })
        ));
    }
}
