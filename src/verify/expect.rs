//! What a finished run should have left behind, user by user, read from
//! its journal: each step kind's evidence (`steps/`) turned into an
//! [`Expect`] from the step's outcome and its intent's before-state.

use std::collections::HashMap;

use crate::journal::{Before, Record, StepStatus};
use crate::playbook::Playbook;
use crate::steps::{Evidence, Expect};

/// One step's expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCheck {
    pub step: String,
    pub expect: Expect,
    /// The playbook target the step acted on.
    pub target: usize,
    /// The account id the step's intent journaled (in that target).
    pub user_id: Option<String>,
}

/// Everything to check for one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChecks {
    pub row: u64,
    pub user: String,
    /// The object id the run acted on, when it journaled one.
    pub user_id: Option<String>,
    pub checks: Vec<StepCheck>,
}

#[derive(Default)]
struct Open {
    row: u64,
    user: String,
    user_id: Option<String>,
    intents: HashMap<String, (Before, Option<String>, String)>,
    checks: Vec<StepCheck>,
}

/// Turns a journal, record by record, into [`UserChecks`]; memory holds
/// only users whose `user_done` record has not been seen yet.
pub struct Collector {
    evidence: HashMap<String, (Evidence, usize)>,
    open: HashMap<String, Open>,
}

impl Collector {
    pub fn new(playbook: &Playbook) -> Self {
        Collector {
            evidence: playbook
                .steps
                .iter()
                .map(|s| (s.id.clone(), (s.kind.kind().evidence(), s.target)))
                .collect(),
            open: HashMap::new(),
        }
    }

    /// Feeds one record; returns a user once all its steps are recorded.
    pub fn feed(&mut self, record: Record) -> Option<UserChecks> {
        match record {
            Record::Header(_) => None,
            Record::Intent {
                row,
                user,
                step,
                user_id,
                before,
                at,
            } => {
                let open = self.entry(row, &user);
                if open.user_id.is_none() {
                    open.user_id = Some(user_id.clone());
                }
                open.intents.insert(step, (before, at, user_id));
                None
            }
            Record::Outcome {
                row,
                user,
                step,
                status,
                ..
            } => {
                let (evidence, target) = self.evidence.get(&step)?.clone();
                let open = self.entry(row, &user);
                let (before, at, id) = open.intents.get(&step).cloned().unwrap_or_default();
                let user_id = (!id.is_empty()).then_some(id);
                let expect = match status {
                    StepStatus::Changed | StepStatus::Ok => {
                        evidence.expect(status == StepStatus::Changed, Some(&before), at)
                    }
                    StepStatus::WouldChange | StepStatus::Failed | StepStatus::Skipped => None,
                };
                if let Some(expect) = expect {
                    open.checks.push(StepCheck {
                        step,
                        expect,
                        target,
                        user_id,
                    });
                }
                None
            }
            Record::UserDone { user, .. } => self
                .open
                .remove(&user.to_ascii_lowercase())
                .and_then(Open::finish),
        }
    }

    /// Users whose run stopped before their `user_done` record.
    pub fn rest(self) -> impl Iterator<Item = UserChecks> {
        self.open.into_values().filter_map(Open::finish)
    }

    fn entry(&mut self, row: u64, user: &str) -> &mut Open {
        let open = self.open.entry(user.to_ascii_lowercase()).or_default();
        open.row = row;
        user.clone_into(&mut open.user);
        open
    }
}

impl Open {
    fn finish(self) -> Option<UserChecks> {
        (!self.checks.is_empty()).then_some(UserChecks {
            row: self.row,
            user: self.user,
            user_id: self.user_id,
            checks: self.checks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::{Property, Value};
    use crate::journal::UserStatus;

    #[test]
    fn the_journal_says_what_to_check() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("workflows/incident-response.yaml"),
        )
        .unwrap();
        let p = crate::playbook::load_str("ir.yaml", &text)
            .playbook
            .unwrap();
        let mut c = Collector::new(&p);
        let outcome = |user: &str, step: &str, status| Record::Outcome {
            row: 2,
            user: user.into(),
            step: step.into(),
            status,
            reason: None,
            code: None,
            request_id: None,
            attempts: 1,
        };
        let intent = Record::Intent {
            row: 2,
            user: "a@x.com".into(),
            step: "reset-password".into(),
            user_id: "id-a".into(),
            before: Before {
                last_password_change: Some("t0".into()),
                ..Before::default()
            },
            at: Some("t1".into()),
        };
        assert!(c.feed(intent).is_none());
        assert!(
            c.feed(outcome("a@x.com", "reset-password", StepStatus::Changed))
                .is_none()
        );
        assert!(
            c.feed(outcome("a@x.com", "revoke-sessions", StepStatus::Skipped))
                .is_none()
        );
        assert!(
            c.feed(outcome("a@x.com", "allow-sign-in", StepStatus::Ok))
                .is_none()
        );
        assert!(
            c.feed(outcome("b@x.com", "allow-sign-in", StepStatus::Failed))
                .is_none()
        );
        let done = c
            .feed(Record::UserDone {
                row: 2,
                user: "A@x.com".into(),
                status: UserStatus::Done,
            })
            .unwrap();
        assert_eq!(done.user_id.as_deref(), Some("id-a"));
        assert_eq!(
            done.checks,
            [
                StepCheck {
                    step: "reset-password".into(),
                    expect: Expect::Moved {
                        property: Property::PasswordChanged,
                        before: Some("t0".into()),
                        at: Some("t1".into())
                    },
                    target: 0,
                    user_id: Some("id-a".into()),
                },
                StepCheck {
                    step: "allow-sign-in".into(),
                    expect: Expect::Holds {
                        property: Property::Enabled,
                        want: Value::Bool(true)
                    },
                    target: 0,
                    user_id: None,
                }
            ]
        );
        // A failed step leaves nothing to check.
        assert_eq!(c.rest().count(), 0);
    }
}
