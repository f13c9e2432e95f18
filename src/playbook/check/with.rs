//! The parameters of each step kind (`with:`): which kinds take any, and the
//! rules for those they take, such as where a reset password comes from. One
//! function per step kind, called once the kind is resolved.

use crate::input::InputSpec;
use crate::playbook::checked::{PasswordSource, ResetPassword, StepKind};
use crate::playbook::model::{Spanned, StepDoc};

use super::checker::Checker;

/// `ensure:` steps (`sign_in_allowed`, `sign_in_blocked`) take no parameters.
pub(super) fn ensure(cx: &mut Checker<'_>, step: &StepDoc, e: &Spanned<String>) {
    if let Some(w) = &step.with {
        cx.error(
            "playbook::unexpected-with",
            w,
            format!("`ensure: {}` takes no parameters", e.value),
        )
        .hint = Some("remove `with:`".into());
    }
}

/// `action: revoke_sessions` takes no parameters.
pub(super) fn revoke_sessions(cx: &mut Checker<'_>, step: &StepDoc) -> Option<StepKind> {
    if let Some(w) = &step.with {
        cx.error(
            "playbook::unexpected-with",
            w,
            "`action: revoke_sessions` takes no parameters".into(),
        )
        .hint = Some("remove `with:`".into());
    }
    Some(StepKind::RevokeSessions)
}

/// `action: reset_password`: `password` is `generate` (the default) or a
/// template, never a literal; not forcing a change is allowed but warned.
pub(super) fn reset_password(
    cx: &mut Checker<'_>,
    step: &StepDoc,
    input: &InputSpec,
) -> Option<StepKind> {
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
    Some(StepKind::ResetPassword(ResetPassword {
        password,
        force_change_at_next_sign_in: force,
        force_change_with_mfa: with.and_then(|w| w.force_change_with_mfa).unwrap_or(false),
    }))
}
