//! `ensure: unlocked`: the account is not locked out. On Active
//! Directory, locked is bit `0x10` of the constructed
//! `msDS-User-Account-Control-Computed` (neither `userAccountControl` nor
//! a non-zero `lockoutTime` says it: `lockoutTime` stays set after the
//! lockout expires, until the next sign-in); unlocking replaces
//! `lockoutTime` with `0`. Microsoft Entra ID has no unlock operation, so
//! the step is refused on a Graph target.

use crate::directory::{Account, Change, Op, OpKind, Property, Value, shown_value};
use crate::playbook::model::Provider;
use crate::steps::{Decision, Evidence, Kind, Label, Prepare, Prepared};

/// Takes no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Unlocked;

impl Unlocked {
    /// What `validate` says of the step on a Graph target.
    pub const GRAPH_HINT: &'static str = "Microsoft Entra ID has no unlock operation: a smart lockout ends by itself, and `action: reset_password` ends it at once; to unlock an account mastered on-premises, run this step against an `active_directory` target";
}

impl Kind for Unlocked {
    fn describe(&self) -> String {
        "ensure: unlocked".to_owned()
    }

    fn operation(&self) -> OpKind {
        OpKind::Unlock
    }

    fn past(&self) -> &'static str {
        "unlocked"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Holds {
            property: Property::Locked,
            want: Value::Bool(false),
        }
    }

    fn unsupported_on(&self, provider: Provider) -> Option<&'static str> {
        match provider {
            Provider::Graph => Some(Self::GRAPH_HINT),
            Provider::ActiveDirectory => None,
        }
    }

    fn decide(&self, account: &Account, label: Label) -> Decision {
        let name = label(Property::Locked);
        if account.locked == Some(false) {
            return Decision::Satisfied("not locked out".to_owned());
        }
        let before = account.get(Property::Locked);
        Decision::Change {
            would: format!("{name}: {} → false", shown_value(before.as_ref())),
            change: Some(Change {
                property: name.to_owned(),
                before,
                after: Value::Bool(false),
            }),
        }
    }

    fn prepare(&self, _: Prepare<'_>) -> Result<Prepared, String> {
        Ok(Prepared {
            op: Op::Unlock,
            secret: None,
            done: Some("unlocked (lockout cleared)".to_owned()),
        })
    }
}
