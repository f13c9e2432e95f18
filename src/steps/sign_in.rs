//! `ensure: sign_in_allowed` and `ensure: sign_in_blocked`: the account is
//! enabled, or disabled. One desired property (`Enabled`), two values; a
//! step changes only accounts not already in that state.

use crate::directory::{Account, Change, Op, OpKind, Property, Value, shown_value};
use crate::steps::{Decision, Evidence, Kind, Label, Prepare, Prepared};

/// Sign-in allowed (`true`) or blocked (`false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignIn {
    pub allowed: bool,
}

impl SignIn {
    pub const ALLOWED: SignIn = SignIn { allowed: true };
    pub const BLOCKED: SignIn = SignIn { allowed: false };

    /// The `ensure:` value.
    pub fn name(self) -> &'static str {
        if self.allowed {
            "sign_in_allowed"
        } else {
            "sign_in_blocked"
        }
    }
}

impl Kind for SignIn {
    fn describe(&self) -> String {
        format!("ensure: {}", self.name())
    }

    fn operation(&self) -> OpKind {
        OpKind::SetEnabled
    }

    fn past(&self) -> &'static str {
        "sign-in set"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Holds {
            property: Property::Enabled,
            want: Value::Bool(self.allowed),
        }
    }

    fn decide(&self, account: &Account, label: Label) -> Decision {
        let want = self.allowed;
        let name = label(Property::Enabled);
        if account.enabled == Some(want) {
            return Decision::Satisfied(format!("{name} already {want}"));
        }
        if account.synced {
            // The directory refuses it (400): the flag is mastered on-premises.
            return Decision::NotApplicable(format!(
                "synchronised from on-premises Active Directory: {name} is mastered there and the directory refuses to change it here; change it on-premises"
            ));
        }
        let before = account.get(Property::Enabled);
        Decision::Change {
            would: format!("{name}: {} → {want}", shown_value(before.as_ref())),
            change: Some(Change {
                property: name.to_owned(),
                before,
                after: Value::Bool(want),
            }),
        }
    }

    fn prepare(&self, _: Prepare<'_>) -> Result<Prepared, String> {
        Ok(Prepared {
            op: Op::SetEnabled(self.allowed),
            secret: None,
            done: None,
        })
    }
}
