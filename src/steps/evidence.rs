//! The evidence that a step happened, shared by reconcile-on-doubt (did a
//! request whose answer was lost take effect?), `apply`'s drift check and
//! `verify` (does the change still hold?).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::directory::{Account, Change, Property, Value, value_hash};
use crate::journal::Before;

/// Clock skew tolerated between this machine (the intent's time) and the
/// directory (the times it sets).
const SKEW: time::Duration = time::Duration::minutes(5);

/// How to tell that a step happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Evidence {
    /// A desired state: the property holds `want` afterwards. Sending it
    /// again is harmless; a lost answer is still read back first, which
    /// spares a resend and a false failure.
    Holds { property: Property, want: Value },
    /// A one-shot action: the directory moves `property` (a time) when it
    /// happens. A lost answer is confirmed by reading the account back
    /// before the action is ever repeated.
    Moves(Property),
}

impl Evidence {
    /// Whether `now` shows the step happened, `before` being the account
    /// as journaled with the intent.
    pub fn happened(&self, before: &Before, now: &Account) -> bool {
        match self {
            Evidence::Holds { property, want } => now.get(*property).as_ref() == Some(want),
            Evidence::Moves(p) => now.get(*p) != before.get(*p),
        }
    }

    /// What `verify` checks for a step that ended `changed` (or, for a
    /// desired state, `ok`), from its intent's before-state and time.
    pub fn expect(
        &self,
        changed: bool,
        before: Option<&Before>,
        at: Option<String>,
    ) -> Option<Expect> {
        match self {
            Evidence::Holds { property, want } => Some(Expect::Holds {
                property: *property,
                want: want.clone(),
            }),
            Evidence::Moves(p) if changed => Some(Expect::Moved {
                property: *p,
                before: before.and_then(|b| b.get(*p)).map(|v| v.to_string()),
                at,
            }),
            Evidence::Moves(_) => None,
        }
    }

    /// `apply`, for a step the plan would change: the reason it drifted
    /// when what the plan saw of the property no longer holds. A desired
    /// state compares the `Change` the plan recorded; a one-shot action
    /// whose kind `drifts_when_moved` compares `saw`, the hash
    /// ([`value_hash`]) of the property when the plan read the account
    /// (`None`: the plan did not record it, no drift). Other one-shot
    /// actions do not drift: a plan to revoke is still a plan to revoke.
    pub fn drifted(
        &self,
        planned: Option<&Change>,
        saw: Option<u64>,
        drifts_when_moved: bool,
        now: &Account,
        label: &str,
    ) -> Option<String> {
        let (property, want) = match self {
            Evidence::Holds { property, want } => (property, want),
            Evidence::Moves(p) => {
                let is = now.get(*p);
                return (drifts_when_moved && saw.is_some_and(|h| h != value_hash(is.as_ref())))
                    .then(|| {
                        format!(
                            "drifted since the plan: {label} moved since the plan (now {}); someone else acted, or the plan was applied already; not changed",
                            crate::directory::shown_value(is.as_ref())
                        )
                    });
            }
        };
        let saw = planned.and_then(|c| c.before.clone());
        let is = now.get(*property);
        (is != saw).then(|| {
            let saw = crate::directory::shown_value(saw.as_ref());
            format!(
                "drifted since the plan: {label} is now {}, the plan saw {saw} (planned {saw} → {want}); not changed",
                crate::directory::shown_value(is.as_ref()),
            )
        })
    }

    /// `apply`, for a step the plan found already done: `Ok` with the
    /// outcome text when it still is, `Err` with the drift reason.
    pub fn still_ok(&self, now: &Account, label: &str) -> Result<String, String> {
        let Evidence::Holds { property, want } = self else {
            return Ok("ok in the plan".to_owned());
        };
        let is = now.get(*property);
        if is.as_ref() == Some(want) {
            Ok(format!("{label} still {want}, as planned"))
        } else {
            Err(format!(
                "drifted since the plan: {label} is now {}, the plan found it already {want}; not changed",
                crate::directory::shown_value(is.as_ref())
            ))
        }
    }
}

/// What one step should have left behind, as `verify` checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expect {
    /// The property holds `want`.
    Holds { property: Property, want: Value },
    /// The property (a time) moved past its value before the intent, and
    /// not to before the intent's time.
    Moved {
        property: Property,
        before: Option<String>,
        at: Option<String>,
    },
}

impl Expect {
    /// The property the expectation is about.
    pub fn property(&self) -> Property {
        match self {
            Expect::Holds { property, .. } | Expect::Moved { property, .. } => *property,
        }
    }
}

/// One expectation compared with the account now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub holds: bool,
    pub expected: String,
    pub actual: String,
}

/// Compares `expect` with `now`.
pub fn evaluate(expect: &Expect, now: &Account) -> Verdict {
    let shown = |v: Option<&str>| v.unwrap_or("(none)").to_owned();
    match expect {
        Expect::Holds { property, want } => {
            let is = now.get(*property);
            Verdict {
                holds: is.as_ref() == Some(want),
                expected: want.to_string(),
                actual: is.map_or_else(|| "(none)".to_owned(), |v| v.to_string()),
            }
        }
        Expect::Moved {
            property,
            before,
            at,
        } => {
            let value = now.get(*property).map(|v| v.to_string());
            Verdict {
                holds: moved(value.as_deref(), before.as_deref(), at.as_deref()),
                expected: match at {
                    Some(at) => format!("after {} (was {})", at, shown(before.as_deref())),
                    None => format!("not {}", shown(before.as_deref())),
                },
                actual: shown(value.as_deref()),
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
