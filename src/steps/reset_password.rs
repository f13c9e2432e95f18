//! `action: reset_password`: set a new password, generated per user
//! (saved to the run's `secrets.csv` before the request is sent) or read
//! from the CSV through a template. One-shot: evidence is the
//! password-changed time moving; a repeated reset reuses the saved
//! password, so `secrets.csv` always matches the directory. A planned
//! reset drifts when the password changed since the plan. Guests (they
//! sign in at home) and accounts synchronised from on-premises AD (their
//! password lives there, unless the tenant uses password hash sync and the
//! step opts in) and accounts of a federated domain (they sign in at the
//! domain's identity provider) are skipped with the reason.

use secrecy::SecretString;

use crate::directory::{Account, Op, OpKind, Property};
use crate::playbook::check::Params;
use crate::playbook::model::Provider;
use crate::secrets::generate_password;
use crate::steps::{Decision, Evidence, Kind, Label, Prepare, Prepared};

/// The longest password remedy sends, in characters (Entra ID's limit).
pub const MAX_PASSWORD_CHARS: usize = 256;

/// The filters a password template may apply to its column: pure, and
/// with no argument that could add text of its own.
pub const PASSWORD_FILTERS: &[&str] = &["trim"];

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
        let Params {
            cx,
            step,
            input,
            provider,
        } = p;
        let with = step.with.as_ref().map(|w| &w.value);
        let password = match with.and_then(|w| w.password.as_ref()) {
            None => PasswordSource::Generate,
            Some(p) if p.value.trim() == "generate" => PasswordSource::Generate,
            Some(p) if p.value.contains("{{") => {
                cx.expression(p, input, false)?;
                if let Err((range, message)) = column_only(&p.value) {
                    // Never echo the value: it may hold a real password.
                    cx.error_in("playbook::constant-password", p, Some(range), message)
                        .hint = Some("a password template must take every character from the user's row, or every user gets the same password: use `generate`, or `\"{{ row.<column> }}\"` (optionally `| trim`)".into());
                    return None;
                }
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
        if provider == Some(Provider::ActiveDirectory)
            && let Some(w) = with
        {
            let ignored = [
                ("force_change_with_mfa", w.force_change_with_mfa.is_some()),
                ("reset_synced_in_cloud", w.reset_synced_in_cloud.is_some()),
            ];
            for (name, set) in ignored {
                if set && let Some(at) = &step.with {
                    cx.warning(
                        "playbook::ignored-parameter",
                        at,
                        format!("`{name}` has no effect on an Active Directory target"),
                    )
                    .hint = Some(
                        "it is a setting of Entra ID password resets; remove it from this step"
                            .into(),
                    );
                }
            }
        }
        Some(ResetPassword {
            password,
            force_change_at_next_sign_in: force,
            force_change_with_mfa: with.and_then(|w| w.force_change_with_mfa).unwrap_or(false),
            reset_synced_in_cloud: with.and_then(|w| w.reset_synced_in_cloud).unwrap_or(false),
        })
    }
}

/// The one shape a password template may have: `{{ row.<column> }}`,
/// optionally through [`PASSWORD_FILTERS`] (`{{ row.pw | trim }}`), and
/// nothing outside the braces. Anything else could put the same text in
/// every user's password. Returns the byte range of the first part that
/// breaks the rule and why.
fn column_only(text: &str) -> Result<(), (std::ops::Range<usize>, String)> {
    let outside = |r: std::ops::Range<usize>| {
        Err((
            r,
            "text outside `{{ }}` in a password template would be part of every user's password"
                .to_owned(),
        ))
    };
    if !text.starts_with("{{") {
        return outside(0..text.find("{{").unwrap_or(text.len()));
    }
    let Some(close) = text[2..].find("}}").map(|i| i + 2) else {
        return Err((
            0..text.len(),
            "the password template is not closed".to_owned(),
        ));
    };
    if close + 2 < text.len() {
        return outside(close + 2..text.len());
    }
    let mut start = 2;
    let mut end = close;
    if text[start..end].starts_with('-') {
        start += 1;
    }
    if text[start..end].ends_with('-') {
        end -= 1;
    }
    let mut at = start;
    for (i, segment) in text[start..end].split('|').enumerate() {
        let lead = segment.len() - segment.trim_start().len();
        let word = segment.trim();
        let range = at + lead..at + lead + word.len().max(1);
        at += segment.len() + 1;
        let ok = if i == 0 {
            word.strip_prefix("row.").is_some_and(is_identifier)
        } else {
            PASSWORD_FILTERS.contains(&word)
        };
        if !ok {
            let message = if i == 0 {
                "a password template must insert one column, `row.<column>`, and nothing else (no literal, constant, operator or function)".to_owned()
            } else {
                format!(
                    "a password template may apply only these filters, without arguments: {}",
                    PASSWORD_FILTERS.join(", ")
                )
            };
            return Err((range, message));
        }
    }
    Ok(())
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
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
        if account.federated == Some(true) {
            return Decision::NotApplicable(
                "the account's domain is federated: it signs in at the domain's identity provider, so a password set in Entra ID is not the one it signs in with; reset the password there (on-premises AD or the federation provider)".to_owned(),
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
                Ok(p) if p.chars().count() > MAX_PASSWORD_CHARS => {
                    let n = p.chars().count();
                    drop(zeroize::Zeroizing::new(p));
                    return Err(format!(
                        "the password template rendered {n} characters, more than the {MAX_PASSWORD_CHARS} a password may have; nothing was sent"
                    ));
                }
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

    fn needs_sign_in_authority(&self) -> bool {
        true
    }

    fn generates_secrets(&self) -> bool {
        self.password == PasswordSource::Generate
    }

    fn journaled(&self) -> &'static str {
        "journal or secrets.csv"
    }
}

#[cfg(test)]
mod rule_tests {
    use super::column_only;

    #[test]
    fn only_a_column_optionally_trimmed_is_a_password_template() {
        for ok in [
            "{{ row.temp_password }}",
            "{{row.pw}}",
            "{{- row.pw -}}",
            "{{ row.pw | trim }}",
            "{{ row.pw|trim|trim }}",
        ] {
            assert_eq!(column_only(ok), Ok(()), "{ok}");
        }
        let bad = |t: &str| column_only(t).unwrap_err().0;
        let t = "{{ 'Spring2024!' }}";
        assert_eq!(&t[bad(t)], "'Spring2024!'");
        let t = "{{ row.pw }}!";
        assert_eq!(&t[bad(t)], "!");
        let t = "Pw-{{ row.pw }}";
        assert_eq!(&t[bad(t)], "Pw-");
        let t = "{{ row.pw ~ 'x' }}";
        assert_eq!(&t[bad(t)], "row.pw ~ 'x'");
        let t = "{{ row.pw | default('Spring2024!') }}";
        assert_eq!(&t[bad(t)], "default('Spring2024!')");
        let t = "{{ row.pw | upper }}";
        assert_eq!(&t[bad(t)], "upper");
        for t in [
            "{{ 123456789 }}",
            "{{ range(3) | join }}",
            "{{ row.pw }}{{ 'x' }}",
            "{{ row }}",
            "{{ row['pw'] }}",
            "{{ row.pw.x }}",
            "{{ 'a' * 9 }}",
            "{{ row.pw | }}",
        ] {
            assert!(column_only(t).is_err(), "{t}");
        }
    }
}
