//! Step kinds: what each `ensure:` state and `action:` operation means.
//! Each kind lives in its own file and owns, there, its parameters and
//! their `with:` rules, the
//! operation and permissions it needs, how it decides whether an account
//! needs it, its dry-run and outcome texts, how it is sent, and the
//! evidence that it happened (used by reconcile-on-doubt, `apply`'s drift
//! check and `verify`). The engine, plans and verify reach a kind only
//! through [`StepKind::kind`], the one `match` over kinds.

mod evidence;
mod reset_password;
mod revoke_sessions;
mod sign_in;
mod unlocked;

pub use evidence::{Evidence, Expect, Verdict, evaluate};
pub use reset_password::{PasswordSource, ResetPassword};
pub use revoke_sessions::RevokeSessions;
pub use sign_in::SignIn;
pub use unlocked::Unlocked;

use secrecy::SecretString;

use crate::directory::{Account, Change, Op, OpKind, Property};
use crate::playbook::check::Params;
use crate::playbook::model::{ActionKind, EnsureKind, Provider};

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepKind {
    /// `ensure: sign_in_allowed` / `ensure: sign_in_blocked`.
    SignIn(SignIn),
    /// `action: reset_password`.
    ResetPassword(ResetPassword),
    /// `action: revoke_sessions`.
    RevokeSessions(RevokeSessions),
    /// `ensure: unlocked`.
    Unlocked(Unlocked),
}

impl StepKind {
    /// The kind's behaviour. This is the only `match` over step kinds: a
    /// new kind that lacks a piece does not compile.
    pub fn kind(&self) -> &dyn Kind {
        match self {
            StepKind::SignIn(k) => k,
            StepKind::ResetPassword(k) => k,
            StepKind::RevokeSessions(k) => k,
            StepKind::Unlocked(k) => k,
        }
    }

    /// `ensure: x` or `action: y`, as written in a playbook.
    pub fn describe(&self) -> String {
        self.kind().describe()
    }

    /// The kind of an `ensure:` value (desired states take no parameters).
    pub fn ensure(k: EnsureKind) -> StepKind {
        match k {
            EnsureKind::SignInAllowed => StepKind::SignIn(SignIn::ALLOWED),
            EnsureKind::SignInBlocked => StepKind::SignIn(SignIn::BLOCKED),
            EnsureKind::Unlocked => StepKind::Unlocked(Unlocked),
        }
    }

    /// The `ensure:` value no playbook may ask for beside `k`.
    pub fn contradicting(k: EnsureKind) -> Option<EnsureKind> {
        match k {
            EnsureKind::SignInAllowed => Some(EnsureKind::SignInBlocked),
            EnsureKind::SignInBlocked => Some(EnsureKind::SignInAllowed),
            EnsureKind::Unlocked => None,
        }
    }

    /// The kind of an `action:` value, its `with:` parameters checked by
    /// the kind's own rules (diagnostics go to the checker).
    pub(crate) fn action(k: ActionKind, params: Params<'_, '_>) -> Option<StepKind> {
        match k {
            ActionKind::ResetPassword => ResetPassword::check(params).map(StepKind::ResetPassword),
            ActionKind::RevokeSessions => {
                RevokeSessions::check(params).map(StepKind::RevokeSessions)
            }
        }
    }
}

/// A provider's names of properties, for texts (`accountEnabled`).
pub type Label = fn(Property) -> &'static str;

/// Whether an account needs the step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Already as desired: nothing to do; the text says so.
    Satisfied(String),
    /// The step would change the account: what a dry run says, and the
    /// property change a plan records (desired states only).
    Change {
        would: String,
        change: Option<Change>,
    },
    /// The step cannot do what it promises for this kind of account (a
    /// guest, an account mastered on-premises): skipped, with the reason
    /// and what to do instead, rather than reported as changed.
    NotApplicable(String),
}

/// What a kind needs to build its operation for one account.
pub struct Prepare<'a> {
    /// Renders a `{{ }}` template over the CSV row.
    pub render: &'a dyn Fn(&str) -> Result<String, String>,
    /// The password an earlier, interrupted run saved for this account
    /// (only when its intent is pending), to be reused.
    pub saved_password: Option<SecretString>,
}

/// The operation to send, and how to report it.
pub struct Prepared {
    pub op: Op,
    /// A generated secret, saved to `secrets.csv` with the intent, before
    /// the request is sent.
    pub secret: Option<SecretString>,
    /// The outcome text when it succeeded; `None`: the decision's text
    /// (a desired state's `before → after`).
    pub done: Option<String>,
}

/// A step kind's behaviour.
pub trait Kind: Send + Sync {
    /// `ensure: x` or `action: y`.
    fn describe(&self) -> String;

    /// The operation the kind performs, for the permission preflight.
    fn operation(&self) -> OpKind;

    /// How a run, a resume and `verify` tell that it happened.
    fn evidence(&self) -> Evidence;

    /// Which users it changes, for the confirmation prompt.
    fn scope(&self) -> &'static str {
        match self.evidence() {
            Evidence::Holds { .. } => "changes only users not already in that state",
            Evidence::Moves(_) => "acts once on every user",
        }
    }

    /// Whether `account` needs the step.
    fn decide(&self, account: &Account, label: Label) -> Decision;

    /// The operation for one account.
    fn prepare(&self, input: Prepare<'_>) -> Result<Prepared, String>;

    /// What it did, in the past tense (`password reset`).
    fn past(&self) -> &'static str;

    /// The outcome when a resumed run finds that an interrupted run's
    /// request took effect.
    fn confirmed(&self, label: Label) -> String {
        match self.evidence() {
            Evidence::Holds { property, want } => {
                format!(
                    "{} (confirmed after resume: {} is {want})",
                    self.past(),
                    label(property)
                )
            }
            Evidence::Moves(p) => {
                format!(
                    "{} (confirmed after resume: {} moved)",
                    self.past(),
                    label(p)
                )
            }
        }
    }

    /// `apply`, for a one-shot action ([`Evidence::Moves`]): whether the
    /// planned step drifted when its property moved since the plan (someone
    /// else acted in between). A reset does: a second reset would replace
    /// the password the other party handed out, and applying a plan twice
    /// would replace the passwords of the first `secrets.csv`. A revocation
    /// does not: revoking again only signs the user out once more.
    fn drifts_when_moved(&self) -> bool {
        false
    }

    /// Whether [`Kind::decide`] needs [`Account::federated`]: the step
    /// sets something (a password) that only matters when the account
    /// signs in here. The engine asks the directory before deciding.
    fn needs_sign_in_authority(&self) -> bool {
        false
    }

    /// Why the kind cannot act on `provider`'s directory, and what to do
    /// instead (`validate` refuses the step there); `None` when it can.
    fn unsupported_on(&self, provider: Provider) -> Option<&'static str> {
        let _ = provider;
        None
    }

    /// Whether the kind writes generated secrets (`secrets.csv`).
    fn generates_secrets(&self) -> bool {
        false
    }

    /// What the journal write guards, named when it fails.
    fn journaled(&self) -> &'static str {
        "journal"
    }
}

/// The operations a run of `steps` performs beyond reading each account,
/// by step id: each step's own, after the reads it needs first.
pub fn operations<'a>(
    steps: impl IntoIterator<Item = (&'a str, &'a StepKind)>,
) -> Vec<(String, OpKind)> {
    let mut ops = Vec::new();
    for (id, k) in steps {
        let k = k.kind();
        if k.needs_sign_in_authority() {
            ops.push((format!("step `{id}`"), OpKind::ReadSignInAuthority));
        }
        ops.push((format!("step `{id}`"), k.operation()));
    }
    ops
}

#[cfg(test)]
mod tests;
