//! One user through the playbook: read the user, check the protection
//! guards, then each step in order, each with its intent journaled before
//! the request and its outcome after.
//!
//! The one-shot actions (reset, revoke) are where a repeat would hurt, so
//! whenever their request may or may not have reached Graph (a dropped
//! connection, a timeout, an intent left by a killed run) the user is read
//! back and the action is repeated only if its timestamp did not move.

use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::engine::events::RunEvent;
use crate::engine::outcome::{StepOutcome, Why};
use crate::engine::planned;
use crate::engine::retry::{once_only, retrying};
use crate::engine::{Context, Row};
use crate::graph::users::UserState;
use crate::graph::{ErrorKind, GraphError};
use crate::journal::{Before, Record, StepStatus, UserProgress, UserStatus};
use crate::playbook::model::EnsureKind;
use crate::playbook::{PasswordSource, Step, StepKind};
use crate::secrets::generate_password;

/// Default extra attempts of a step after a transient failure.
pub const DEFAULT_RETRIES: u32 = 5;
/// How long one user may take, retries included, before it is failed.
pub const USER_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How one user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserResult {
    pub failed: bool,
}

/// Runs every step of the playbook for one row.
pub async fn process(cx: &Context, row: &Row, progress: Option<&UserProgress>) -> UserResult {
    let deadline = Instant::now() + USER_DEADLINE;
    let steps = &cx.playbook.steps;
    let mut outcomes: Vec<Option<StepOutcome>> = steps.iter().map(|_| None).collect();

    // Protected by name: nothing is read or touched.
    if cx
        .playbook
        .guards
        .protected_users
        .contains(&row.key.to_ascii_lowercase())
    {
        let o = StepOutcome::because(
            StepStatus::Skipped,
            Why::Protected,
            "protected: listed in guards.protect.users",
        );
        return finish_all(cx, row, None, &mut outcomes, &o, UserStatus::Skipped);
    }

    // Apply: a user the plan has nothing for is not even read.
    let planned = match cx.planned.as_deref().map(|p| p.get(&row.key)) {
        Some(None) => {
            let o = planned::not_planned();
            return finish_all(cx, row, None, &mut outcomes, &o, UserStatus::Skipped);
        }
        Some(Some(p)) => Some(p),
        None => None,
    };

    let (state, _) = match read_user(cx, &row.key, deadline).await {
        Ok(s) => s,
        Err((e, attempts)) => {
            let reason = if e.kind == ErrorKind::NotFound {
                format!("user not found: {e}")
            } else {
                e.to_string()
            };
            cx.failure(row, "read", &reason);
            let mut o = StepOutcome::failed(&e, attempts);
            o.reason = Some(reason);
            if e.kind == ErrorKind::NotFound {
                o.why = Why::NotFound;
            }
            fail_remaining(&mut outcomes, steps, progress, &o);
            return record_all(cx, row, None, outcomes, true);
        }
    };

    if let Some(o) = planned.and_then(|p| planned::user_drift(p, &state)) {
        return finish_all(
            cx,
            row,
            Some(&state),
            &mut outcomes,
            &o,
            UserStatus::Skipped,
        );
    }

    if cx.playbook.guards.protect_privileged {
        match list_roles(cx, &state.id, deadline).await {
            Ok(roles) if !roles.is_empty() => {
                let o = StepOutcome::because(
                    StepStatus::Skipped,
                    Why::Protected,
                    format!("protected: holds the directory role {}", roles.join(", ")),
                );
                return finish_all(
                    cx,
                    row,
                    Some(&state),
                    &mut outcomes,
                    &o,
                    UserStatus::Skipped,
                );
            }
            Ok(_) => {}
            Err((e, attempts)) => {
                // Unknown roles: refuse to touch the user rather than risk an admin.
                cx.failure(row, "protect", &e.to_string());
                let mut o = StepOutcome::failed(&e, attempts);
                o.reason = Some(format!(
                    "cannot check the user's directory roles: {}",
                    o.reason.unwrap_or_default()
                ));
                fail_remaining(&mut outcomes, steps, progress, &o);
                return record_all(cx, row, Some(&state), outcomes, true);
            }
        }
    }

    let mut state = state;
    let mut failed_before = false;
    let row_context = row_context(cx, row);
    for (i, step) in steps.iter().enumerate() {
        if let Some(status) = progress.and_then(|p| p.outcomes.get(&step.id)).copied() {
            failed_before |= status == StepStatus::Failed;
            outcomes[i] = Some(StepOutcome::earlier(status));
            continue;
        }
        let outcome = if failed_before && !step.continue_on_error {
            StepOutcome::because(
                StepStatus::Skipped,
                Why::EarlierFailed,
                "an earlier step failed",
            )
        } else {
            match cx.condition(i, &row_context) {
                Ok(false) => StepOutcome::because(
                    StepStatus::Skipped,
                    Why::ConditionFalse,
                    format!(
                        "condition false: {}",
                        step.when.as_deref().unwrap_or_default()
                    ),
                ),
                Err(e) => StepOutcome::new(
                    StepStatus::Failed,
                    format!("the `when` condition failed: {e}"),
                ),
                Ok(true) => {
                    let pending = progress.and_then(|p| p.pending.get(&step.id));
                    // A step whose intent is journaled was already under
                    // way: it is finished, not held against the plan.
                    let gate = planned
                        .filter(|_| pending.is_none())
                        .and_then(|p| planned::gate_step(p, i, step, &state));
                    match gate {
                        Some(o) => o,
                        None => {
                            run_step(
                                cx,
                                row,
                                step,
                                &mut state,
                                pending.map(|(_, b)| b),
                                &row_context,
                                deadline,
                            )
                            .await
                        }
                    }
                }
            }
        };
        if outcome.status == StepStatus::Failed {
            failed_before = true;
            cx.failure(row, &step.id, outcome.reason.as_deref().unwrap_or("failed"));
        }
        cx.event(RunEvent::Step {
            step: i,
            status: outcome.status,
        });
        journal_outcome(cx, row, step, &outcome);
        outcomes[i] = Some(outcome);
    }
    cx.plan_user(row, Some(&state), &outcomes);
    finished(cx, row, failed_before)
}

/// Every step without an earlier outcome gets `failure`.
fn fail_remaining(
    outcomes: &mut [Option<StepOutcome>],
    steps: &[Step],
    progress: Option<&UserProgress>,
    failure: &StepOutcome,
) {
    for (slot, step) in outcomes.iter_mut().zip(steps) {
        let earlier = progress.and_then(|p| p.outcomes.get(&step.id)).copied();
        *slot = Some(earlier.map_or_else(|| failure.clone(), StepOutcome::earlier));
    }
}

/// Gives every step the same outcome (protected, unplanned or drifted
/// users) and journals it.
fn finish_all(
    cx: &Context,
    row: &Row,
    state: Option<&UserState>,
    outcomes: &mut [Option<StepOutcome>],
    outcome: &StepOutcome,
    user_status: UserStatus,
) -> UserResult {
    for (i, step) in cx.playbook.steps.iter().enumerate() {
        cx.event(RunEvent::Step {
            step: i,
            status: outcome.status,
        });
        journal_outcome(cx, row, step, outcome);
        outcomes[i] = Some(outcome.clone());
    }
    cx.plan_user(row, state, outcomes);
    user_done(cx, row, user_status);
    UserResult { failed: false }
}

fn record_all(
    cx: &Context,
    row: &Row,
    state: Option<&UserState>,
    outcomes: Vec<Option<StepOutcome>>,
    failed: bool,
) -> UserResult {
    for (i, (step, o)) in cx.playbook.steps.iter().zip(&outcomes).enumerate() {
        if let Some(o) = o {
            cx.event(RunEvent::Step {
                step: i,
                status: o.status,
            });
            journal_outcome(cx, row, step, o);
        }
    }
    cx.plan_user(row, state, &outcomes);
    finished(cx, row, failed)
}

/// Journals the end of a user whose steps all ran (or failed) and returns
/// its result.
fn finished(cx: &Context, row: &Row, failed: bool) -> UserResult {
    let status = if failed {
        UserStatus::Failed
    } else {
        UserStatus::Done
    };
    user_done(cx, row, status);
    UserResult { failed }
}

/// Journals that every step of the user has an outcome; a resumed run
/// skips the user from then on.
fn user_done(cx: &Context, row: &Row, status: UserStatus) {
    if let Some(j) = &cx.journal {
        let _ = j.write(&Record::UserDone {
            row: row.row,
            user: row.key.clone(),
            status,
        });
    }
}

fn journal_outcome(cx: &Context, row: &Row, step: &Step, o: &StepOutcome) {
    if o.earlier {
        return;
    }
    if let Some(j) = &cx.journal {
        let _ = j.write(&Record::Outcome {
            row: row.row,
            user: row.key.clone(),
            step: step.id.clone(),
            status: o.status,
            reason: o.reason.clone(),
            code: o.code.clone(),
            request_id: o.request_id.clone(),
            attempts: o.attempts,
        });
    }
}

fn row_context(cx: &Context, row: &Row) -> minijinja::Value {
    crate::playbook::expr::row_value(&cx.columns, &row.values)
}

async fn read_user(
    cx: &Context,
    key: &str,
    deadline: Instant,
) -> Result<(UserState, u32), (GraphError, u32)> {
    retrying(cx, DEFAULT_RETRIES, deadline, || cx.get_user(key)).await
}

async fn list_roles(
    cx: &Context,
    id: &str,
    deadline: Instant,
) -> Result<Vec<String>, (GraphError, u32)> {
    let (roles, _) = retrying(cx, DEFAULT_RETRIES, deadline, || cx.directory_roles(id)).await?;
    Ok(roles
        .into_iter()
        .map(|r| r.display_name.or(r.role_template_id).unwrap_or(r.id))
        .collect())
}

async fn run_step(
    cx: &Context,
    row: &Row,
    step: &Step,
    state: &mut UserState,
    pending: Option<&Before>,
    row_context: &minijinja::Value,
    deadline: Instant,
) -> StepOutcome {
    let retries = step.retries.unwrap_or(DEFAULT_RETRIES);
    match &step.kind {
        StepKind::Ensure(kind) => {
            let want = *kind == EnsureKind::SignInAllowed;
            let have = state.account_enabled;
            if have == Some(want) {
                return StepOutcome::new(StepStatus::Ok, format!("accountEnabled already {want}"));
            }
            let change = format!(
                "accountEnabled: {} → {want}",
                have.map_or("unknown".into(), |b| b.to_string())
            );
            if cx.dry_run {
                return StepOutcome::new(StepStatus::WouldChange, change).with_change(have, want);
            }
            if let Err(e) = intent(cx, row, step, state, None).await {
                return StepOutcome::new(
                    StepStatus::Failed,
                    format!("journal write failed, request not sent: {e}"),
                );
            }
            // Setting a value is idempotent: a retry after a dropped
            // connection cannot do harm.
            match retrying(cx, retries, deadline, || {
                cx.set_account_enabled(&state.id, want)
            })
            .await
            {
                Ok(((), attempts)) => {
                    state.account_enabled = Some(want);
                    StepOutcome {
                        attempts,
                        ..StepOutcome::new(StepStatus::Changed, change).with_change(have, want)
                    }
                }
                Err((e, attempts)) => StepOutcome::failed(&e, attempts),
            }
        }
        StepKind::ResetPassword(reset) => {
            if cx.dry_run {
                let how = match &reset.password {
                    PasswordSource::Generate => "generated, saved to secrets.csv",
                    PasswordSource::Template(_) => "from the CSV template",
                };
                return StepOutcome::new(
                    StepStatus::WouldChange,
                    format!("password would be reset ({how})"),
                );
            }
            let before = state.last_password_change_date_time.clone();
            if let Some(b) = pending {
                // A killed run may have sent this reset: trust the timestamp.
                if state.last_password_change_date_time != b.last_password_change {
                    return StepOutcome::new(
                        StepStatus::Changed,
                        "password reset (confirmed after resume: lastPasswordChangeDateTime moved)",
                    );
                }
            }
            let (password, generated) = match &reset.password {
                PasswordSource::Generate => {
                    let saved = pending.and(
                        cx.saved_passwords
                            .get(&row.key.to_ascii_lowercase())
                            .cloned(),
                    );
                    (saved.unwrap_or_else(generate_password), true)
                }
                PasswordSource::Template(t) => match cx.render(t, row_context) {
                    Ok(p) if !p.is_empty() => (SecretString::from(p), false),
                    Ok(_) => {
                        return StepOutcome::new(
                            StepStatus::Failed,
                            "the password template rendered an empty password",
                        );
                    }
                    Err(e) => {
                        return StepOutcome::new(
                            StepStatus::Failed,
                            format!("the password template failed: {e}"),
                        );
                    }
                },
            };
            let secret = generated.then_some(&password);
            if let Err(e) = intent(cx, row, step, state, secret).await {
                return StepOutcome::new(
                    StepStatus::Failed,
                    format!("journal or secrets.csv write failed, request not sent: {e}"),
                );
            }
            let result = once_only(
                cx,
                retries,
                deadline,
                &state.id,
                |s| s.last_password_change_date_time != before,
                || {
                    cx.reset_password(
                        &state.id,
                        &password,
                        reset.force_change_at_next_sign_in,
                        reset.force_change_with_mfa,
                    )
                },
            )
            .await;
            match result {
                Ok(attempts) => {
                    let how = if generated {
                        "password reset (generated, in secrets.csv)"
                    } else {
                        "password reset (from the CSV)"
                    };
                    StepOutcome {
                        attempts,
                        ..StepOutcome::new(StepStatus::Changed, how)
                    }
                }
                Err((e, attempts)) => StepOutcome::failed(&e, attempts),
            }
        }
        StepKind::RevokeSessions => {
            if cx.dry_run {
                return StepOutcome::new(StepStatus::WouldChange, "sessions would be revoked");
            }
            let before = state.sign_in_sessions_valid_from_date_time.clone();
            if let Some(b) = pending
                && state.sign_in_sessions_valid_from_date_time != b.sign_in_sessions_valid_from
            {
                return StepOutcome::new(
                    StepStatus::Changed,
                    "sessions revoked (confirmed after resume: signInSessionsValidFromDateTime moved)",
                );
            }
            if let Err(e) = intent(cx, row, step, state, None).await {
                return StepOutcome::new(
                    StepStatus::Failed,
                    format!("journal write failed, request not sent: {e}"),
                );
            }
            match once_only(
                cx,
                retries,
                deadline,
                &state.id,
                |s| s.sign_in_sessions_valid_from_date_time != before,
                || cx.revoke_sessions(&state.id),
            )
            .await
            {
                Ok(attempts) => StepOutcome {
                    attempts,
                    ..StepOutcome::new(StepStatus::Changed, "sessions revoked")
                },
                Err((e, attempts)) => StepOutcome::failed(&e, attempts),
            }
        }
    }
}

/// Journals the intent durably (and the generated password, first) before
/// the request is sent.
async fn intent(
    cx: &Context,
    row: &Row,
    step: &Step,
    state: &UserState,
    password: Option<&SecretString>,
) -> std::io::Result<()> {
    let Some(j) = &cx.journal else { return Ok(()) };
    let record = Record::Intent {
        row: row.row,
        user: row.key.clone(),
        step: step.id.clone(),
        user_id: state.id.clone(),
        before: Before {
            account_enabled: state.account_enabled,
            last_password_change: state.last_password_change_date_time.clone(),
            sign_in_sessions_valid_from: state.sign_in_sessions_valid_from_date_time.clone(),
        },
        at: Some(crate::rundir::now_rfc3339()),
    };
    j.write_durable(&record, password.map(|p| (row.key.as_str(), p)))
        .await
}
