//! `action: revoke_sessions`: invalidate the account's refresh tokens and
//! session cookies, signing the user out everywhere. One-shot: evidence is
//! the sessions-valid-from time moving.

use crate::directory::{Account, Op, OpKind, Property};
use crate::playbook::check::Params;
use crate::playbook::model::Provider;
use crate::steps::{Decision, Evidence, Kind, Label, Prepare, Prepared};

/// Takes no parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RevokeSessions;

impl RevokeSessions {
    /// `with:` rules: it takes no parameters.
    pub(crate) fn check(mut p: Params<'_, '_>) -> Option<Self> {
        p.no_parameters("action: revoke_sessions");
        Some(RevokeSessions)
    }
}

impl Kind for RevokeSessions {
    fn describe(&self) -> String {
        "action: revoke_sessions".to_owned()
    }

    fn operation(&self) -> OpKind {
        OpKind::RevokeSessions
    }

    fn past(&self) -> &'static str {
        "sessions revoked"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Moves(Property::SessionsValidFrom)
    }

    fn unsupported_on(&self, provider: Provider) -> Option<&'static str> {
        match provider {
            Provider::Graph => None,
            Provider::ActiveDirectory => Some(
                "Active Directory has no sign-in sessions to revoke over LDAP; run `action: revoke_sessions` against the Graph target of a hybrid playbook (`targets:` with a `graph` target and `target:` on this step)",
            ),
        }
    }

    fn decide(&self, account: &Account, _: Label) -> Decision {
        if account.is_guest() {
            return Decision::NotApplicable(
                "guest account: its sign-in sessions are issued by its home tenant, so revoking them here signs it out nowhere; revoke them in the home tenant".to_owned(),
            );
        }
        Decision::Change {
            would: "sessions would be revoked".to_owned(),
            change: None,
        }
    }

    fn prepare(&self, _: Prepare<'_>) -> Result<Prepared, String> {
        Ok(Prepared {
            op: Op::RevokeSessions,
            secret: None,
            done: Some("sessions revoked".to_owned()),
        })
    }
}
