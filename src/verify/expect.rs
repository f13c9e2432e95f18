//! What a finished run should have left behind, user by user, read from
//! its journal; and [`evaluate`], which compares one expectation with the
//! user as Graph shows it now.

use std::collections::HashMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::graph::users::UserState;
use crate::journal::{Before, Record, StepStatus};
use crate::playbook::model::EnsureKind;
use crate::playbook::{Playbook, StepKind};

/// Clock skew tolerated between this machine (the intent's time) and
/// Graph (the timestamps it sets).
const SKEW: time::Duration = time::Duration::minutes(5);

/// What one step should have left behind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// `ensure:` (changed or already ok): `accountEnabled` is `want`.
    AccountEnabled { want: bool },
    /// A reset: `lastPasswordChangeDateTime` moved past its value before
    /// the intent, and not to before the intent's time.
    PasswordChanged {
        before: Option<String>,
        at: Option<String>,
    },
    /// A revocation: `signInSessionsValidFromDateTime` likewise.
    SessionsRevoked {
        before: Option<String>,
        at: Option<String>,
    },
}

impl Expect {
    /// The Graph property the expectation is about.
    pub fn property(&self) -> &'static str {
        match self {
            Expect::AccountEnabled { .. } => "accountEnabled",
            Expect::PasswordChanged { .. } => "lastPasswordChangeDateTime",
            Expect::SessionsRevoked { .. } => "signInSessionsValidFromDateTime",
        }
    }
}

/// One step's expectation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepCheck {
    pub step: String,
    pub expect: Expect,
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
    intents: HashMap<String, (Before, Option<String>)>,
    checks: Vec<StepCheck>,
}

/// Turns a journal, record by record, into [`UserChecks`]; memory holds
/// only users whose `user_done` record has not been seen yet.
pub struct Collector {
    kinds: HashMap<String, StepKind>,
    open: HashMap<String, Open>,
}

impl Collector {
    pub fn new(playbook: &Playbook) -> Self {
        Collector {
            kinds: playbook
                .steps
                .iter()
                .map(|s| (s.id.clone(), s.kind.clone()))
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
                open.user_id = Some(user_id);
                open.intents.insert(step, (before, at));
                None
            }
            Record::Outcome {
                row,
                user,
                step,
                status,
                ..
            } => {
                let kind = self.kinds.get(&step).cloned()?;
                let open = self.entry(row, &user);
                let intent = open.intents.get(&step).cloned().unwrap_or_default();
                let expect = match (kind, status) {
                    (StepKind::Ensure(k), StepStatus::Changed | StepStatus::Ok) => {
                        Some(Expect::AccountEnabled {
                            want: k == EnsureKind::SignInAllowed,
                        })
                    }
                    (StepKind::ResetPassword(_), StepStatus::Changed) => {
                        Some(Expect::PasswordChanged {
                            before: intent.0.last_password_change,
                            at: intent.1,
                        })
                    }
                    (StepKind::RevokeSessions, StepStatus::Changed) => {
                        Some(Expect::SessionsRevoked {
                            before: intent.0.sign_in_sessions_valid_from,
                            at: intent.1,
                        })
                    }
                    _ => None,
                };
                if let Some(expect) = expect {
                    open.checks.push(StepCheck { step, expect });
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

/// One expectation compared with the user now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub holds: bool,
    pub expected: String,
    pub actual: String,
}

/// Compares `expect` with `now`.
pub fn evaluate(expect: &Expect, now: &UserState) -> Verdict {
    let shown = |v: Option<&str>| v.unwrap_or("(none)").to_owned();
    match expect {
        Expect::AccountEnabled { want } => Verdict {
            holds: now.account_enabled == Some(*want),
            expected: want.to_string(),
            actual: now
                .account_enabled
                .map_or_else(|| "(none)".to_owned(), |b| b.to_string()),
        },
        Expect::PasswordChanged { before, at } | Expect::SessionsRevoked { before, at } => {
            let value = match expect {
                Expect::PasswordChanged { .. } => now.last_password_change_date_time.as_deref(),
                _ => now.sign_in_sessions_valid_from_date_time.as_deref(),
            };
            Verdict {
                holds: moved(value, before.as_deref(), at.as_deref()),
                expected: match at {
                    Some(at) => format!("after {} (was {})", at, shown(before.as_deref())),
                    None => format!("not {}", shown(before.as_deref())),
                },
                actual: shown(value),
            }
        }
    }
}

/// Whether a timestamp moved: it differs from (and is not earlier than)
/// its value before the action, and is not earlier than the action's
/// intent, give or take [`SKEW`].
fn moved(now: Option<&str>, before: Option<&str>, at: Option<&str>) -> bool {
    let Some(now) = now else { return false };
    if Some(now) == before {
        return false;
    }
    let parse = |s: &str| OffsetDateTime::parse(s, &Rfc3339).ok();
    let now = parse(now);
    let later_than = |other: Option<&str>, slack: time::Duration| match (now, other.and_then(parse))
    {
        (Some(n), Some(o)) => n >= o - slack,
        _ => true,
    };
    later_than(before, time::Duration::ZERO) && later_than(at, SKEW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::UserStatus;

    fn state(enabled: bool, pw: Option<&str>, sessions: Option<&str>) -> UserState {
        UserState {
            id: "id".into(),
            user_principal_name: None,
            account_enabled: Some(enabled),
            on_premises_sync_enabled: false,
            last_password_change_date_time: pw.map(Into::into),
            sign_in_sessions_valid_from_date_time: sessions.map(Into::into),
            user_type: None,
        }
    }

    #[test]
    fn timestamps_must_move_past_the_intent() {
        let e = Expect::SessionsRevoked {
            before: Some("2026-01-01T00:00:00Z".into()),
            at: Some("2026-02-01T10:00:00.5Z".into()),
        };
        // Graph sets whole seconds, a moment after the intent.
        assert!(evaluate(&e, &state(true, None, Some("2026-02-01T10:00:00Z"))).holds);
        // Not moved at all.
        let v = evaluate(&e, &state(true, None, Some("2026-01-01T00:00:00Z")));
        assert!(!v.holds);
        assert_eq!(v.actual, "2026-01-01T00:00:00Z");
        // Moved, but to long before the intent.
        assert!(!evaluate(&e, &state(true, None, Some("2026-01-15T00:00:00Z"))).holds);
        assert!(!evaluate(&e, &state(true, None, None)).holds);
        let reset = Expect::PasswordChanged {
            before: None,
            at: None,
        };
        assert!(evaluate(&reset, &state(true, Some("2026-01-01T00:00:00Z"), None)).holds);
        let enabled = Expect::AccountEnabled { want: true };
        assert!(evaluate(&enabled, &state(true, None, None)).holds);
        assert!(!evaluate(&enabled, &state(false, None, None)).holds);
    }

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
                    expect: Expect::PasswordChanged {
                        before: Some("t0".into()),
                        at: Some("t1".into())
                    }
                },
                StepCheck {
                    step: "allow-sign-in".into(),
                    expect: Expect::AccountEnabled { want: true }
                }
            ]
        );
        // A failed step leaves nothing to check.
        assert_eq!(c.rest().count(), 0);
    }
}
