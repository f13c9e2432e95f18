//! `action: reset_password`: set a new password, generated per user
//! (saved to the run's `secrets.csv` before the request is sent) or read
//! from the CSV through a template. One-shot: evidence is the
//! password-changed time moving; a repeated reset reuses the saved
//! password, so `secrets.csv` always matches the directory. A planned
//! reset drifts when the password changed since the plan. Guests (they
//! sign in at home) and accounts synchronised from on-premises AD (their
//! password lives there, unless the tenant uses password hash sync and the
//! step opts in) are skipped with the reason.

use secrecy::SecretString;

use crate::directory::{Account, Op, OpKind, Property};
use crate::playbook::check::Params;
use crate::secrets::generate_password;
use crate::steps::{Decision, Evidence, Kind, Label, Prepare, Prepared};

/// The parameters (`with:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResetPassword {
    pub password: PasswordSource,
    pub force_change_at_next_sign_in: bool,
    pub force_change_with_mfa: bool,
    /// Reset accounts synchronised from on-premises AD in the cloud too
    /// (right only where they sign in with password hash sync).
    pub reset_synced_in_cloud: bool,
}

/// Where a new password comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// A fresh random password per user.
    Generate,
    /// A template over the row, e.g. `{{ row.temp_password }}`.
    Template(String),
}

impl ResetPassword {
    /// `with:` rules: `password` is `generate` (the default) or a
    /// template, never a literal; not forcing a change is allowed but
    /// warned.
    pub(crate) fn check(p: Params<'_, '_>) -> Option<Self> {
        let Params { cx, step, input } = p;
        let with = step.with.as_ref().map(|w| &w.value);
        let password = match with.and_then(|w| w.password.as_ref()) {
            None => PasswordSource::Generate,
            Some(p) if p.value.trim() == "generate" => PasswordSource::Generate,
            Some(p) if p.value.contains("{{") => {
                cx.expression(p, input, false)?;
                PasswordSource::Template(p.value.clone())
            }
            Some(p) => {
                // Never echo the value: it may be a real password.
                cx.error(
                    "playbook::literal-password",
                    p,
                    "`password` must be `generate` or a template; a literal password is refused".into(),
                )
                .hint = Some("a password written in a playbook ends up in version control and is shared by every user; use `generate`, or `\"{{ row.<column> }}\"` to read it from the CSV".into());
                return None;
            }
        };
        let force = with
            .and_then(|w| w.force_change_at_next_sign_in)
            .unwrap_or(true);
        if !force && let Some(w) = &step.with {
            cx.warning(
                "playbook::no-forced-change",
                w,
                "`force_change_at_next_sign_in: false` leaves the user with a password someone else knows".into(),
            )
            .hint = Some("Microsoft advises forcing a change after an admin reset".into());
        }
        Some(ResetPassword {
            password,
            force_change_at_next_sign_in: force,
            force_change_with_mfa: with.and_then(|w| w.force_change_with_mfa).unwrap_or(false),
            reset_synced_in_cloud: with.and_then(|w| w.reset_synced_in_cloud).unwrap_or(false),
        })
    }
}

impl Kind for ResetPassword {
    fn describe(&self) -> String {
        "action: reset_password".to_owned()
    }

    fn operation(&self) -> OpKind {
        OpKind::ResetPassword
    }

    fn past(&self) -> &'static str {
        "password reset"
    }

    fn evidence(&self) -> Evidence {
        Evidence::Moves(Property::PasswordChanged)
    }

    fn decide(&self, account: &Account, _: Label) -> Decision {
        if account.is_guest() {
            return Decision::NotApplicable(
                "guest account: it signs in with its home tenant's password, which a reset here does not change".to_owned(),
            );
        }
        if account.synced && !self.reset_synced_in_cloud {
            return Decision::NotApplicable(
                "synchronised from on-premises Active Directory: a cloud reset does not change the password it signs in with under pass-through or federated sign-in; reset it on-premises (with password hash sync, `with: reset_synced_in_cloud: true` allows cloud resets)".to_owned(),
            );
        }
        let how = match &self.password {
            PasswordSource::Generate => "generated, saved to secrets.csv",
            PasswordSource::Template(_) => "from the CSV template",
        };
        Decision::Change {
            would: format!("password would be reset ({how})"),
            change: None,
        }
    }

    fn prepare(&self, input: Prepare<'_>) -> Result<Prepared, String> {
        let (password, secret, done) = match &self.password {
            PasswordSource::Generate => {
                let p = input.saved_password.unwrap_or_else(generate_password);
                (
                    p.clone(),
                    Some(p),
                    "password reset (generated, in secrets.csv)",
                )
            }
            PasswordSource::Template(t) => match (input.render)(t) {
                Ok(p) if !p.is_empty() => {
                    (SecretString::from(p), None, "password reset (from the CSV)")
                }
                Ok(_) => return Err("the password template rendered an empty password".to_owned()),
                Err(e) => return Err(format!("the password template failed: {e}")),
            },
        };
        Ok(Prepared {
            op: Op::ResetPassword {
                password,
                force_change: self.force_change_at_next_sign_in,
                with_mfa: self.force_change_with_mfa,
            },
            secret,
            done: Some(done.to_owned()),
        })
    }

    /// The password changed since the plan: someone reset it (or the plan
    /// was applied already); resetting again would replace that password.
    fn drifts_when_moved(&self) -> bool {
        true
    }

    fn generates_secrets(&self) -> bool {
        self.password == PasswordSource::Generate
    }

    fn journaled(&self) -> &'static str {
        "journal or secrets.csv"
    }
}
