//! The engine's plan modes. A dry run that makes a plan turns each user's
//! outcomes into a plan line ([`plan_line`]); `apply` consults the plan
//! before each step ([`gate_step`]) so that only planned changes are made,
//! and a user whose state moved since the plan is reported as drifted
//! instead of being changed.

use crate::engine::Row;
use crate::engine::outcome::{StepOutcome, Why};
use crate::graph::users::UserState;
use crate::journal::{Before, StepStatus};
use crate::plan::{Mark, PlanStep, PlanUser, PlannedUser, StepResult, UserResult};
use crate::playbook::model::EnsureKind;
use crate::playbook::{Step, StepKind};

fn drifted(reason: String) -> StepOutcome {
    StepOutcome::because(StepStatus::Skipped, Why::Drifted, reason)
}

/// Apply, every step of a user the plan has nothing for.
pub fn not_planned() -> StepOutcome {
    StepOutcome::because(
        StepStatus::Skipped,
        Why::NotPlanned,
        "not in the plan: nothing to do for this user",
    )
}

/// Apply: the outcome of every step when the account read now is not the
/// one the plan read (deleted and re-created under the same name).
pub fn user_drift(planned: &PlannedUser, state: &UserState) -> Option<StepOutcome> {
    (!planned.same_account(&state.id)).then(|| {
        drifted(format!(
            "drifted since the plan: the account now has object id {} (deleted and re-created?); not changed",
            state.id
        ))
    })
}

/// Apply: what becomes of step `i` (whose condition holds) for a planned
/// user; `None` means "do it", which happens only when the plan says the
/// step would change the user and what it saw still holds.
pub fn gate_step(
    planned: &PlannedUser,
    i: usize,
    step: &Step,
    state: &UserState,
) -> Option<StepOutcome> {
    let mark = planned.marks.get(i).copied().unwrap_or(Mark::Nothing);
    let want = match &step.kind {
        StepKind::Ensure(k) => Some(*k == EnsureKind::SignInAllowed),
        _ => None,
    };
    let now = state.account_enabled;
    let shown = |v: Option<bool>| v.map_or_else(|| "unknown".to_owned(), |b| b.to_string());
    match (mark, want) {
        (Mark::Nothing, _) => Some(StepOutcome::because(
            StepStatus::Skipped,
            Why::NotPlanned,
            "not in the plan: nothing to do for this step",
        )),
        (Mark::Change, Some(want)) if now != planned.account_enabled => Some(drifted(format!(
            "drifted since the plan: accountEnabled is now {}, the plan saw {} (planned {} → {want}); not changed",
            shown(now),
            shown(planned.account_enabled),
            shown(planned.account_enabled),
        ))),
        (Mark::Change, _) => None,
        (Mark::Ok, Some(want)) if now == Some(want) => Some(StepOutcome::new(
            StepStatus::Ok,
            format!("accountEnabled still {want}, as planned"),
        )),
        (Mark::Ok, Some(want)) => Some(drifted(format!(
            "drifted since the plan: accountEnabled is now {}, the plan found it already {want}; not changed",
            shown(now)
        ))),
        (Mark::Ok, None) => Some(StepOutcome::new(StepStatus::Ok, "ok in the plan")),
    }
}

/// A dry run's outcomes for one user, as a plan line.
pub fn plan_line(
    row: &Row,
    state: Option<&UserState>,
    steps: &[Step],
    outcomes: &[Option<StepOutcome>],
) -> PlanUser {
    let mut result = UserResult::NoChange;
    let mut reason = None;
    let plan_steps = steps
        .iter()
        .zip(outcomes)
        .map(|(step, o)| {
            let r = o.as_ref().map_or(StepResult::Skipped, step_result);
            let rank = |u: UserResult| match u {
                UserResult::NoChange => 0,
                UserResult::WouldChange => 1,
                UserResult::Failed => 2,
                UserResult::NotFound => 3,
                UserResult::Protected => 4,
            };
            let user = match r {
                StepResult::WouldChange => UserResult::WouldChange,
                StepResult::Protected => UserResult::Protected,
                StepResult::NotFound => UserResult::NotFound,
                StepResult::Failed => UserResult::Failed,
                _ => UserResult::NoChange,
            };
            if rank(user) > rank(result) {
                result = user;
                if user != UserResult::WouldChange {
                    reason = o.as_ref().and_then(|o| o.reason.clone());
                }
            }
            PlanStep {
                step: step.id.clone(),
                result: r,
                change: o.as_ref().and_then(|o| o.change.clone()),
                detail: o.as_ref().and_then(|o| o.reason.clone()),
            }
        })
        .collect();
    PlanUser {
        row: row.row,
        user: row.key.clone(),
        result,
        user_id: state.map(|s| s.id.clone()),
        before: state.map(|s| Before {
            account_enabled: s.account_enabled,
            last_password_change: s.last_password_change_date_time.clone(),
            sign_in_sessions_valid_from: s.sign_in_sessions_valid_from_date_time.clone(),
        }),
        reason,
        steps: plan_steps,
    }
}

fn step_result(o: &StepOutcome) -> StepResult {
    match (o.status, o.why) {
        (StepStatus::WouldChange | StepStatus::Changed, _) => StepResult::WouldChange,
        (StepStatus::Ok, _) => StepResult::Ok,
        (_, Why::ConditionFalse) => StepResult::ConditionFalse,
        (_, Why::Protected) => StepResult::Protected,
        (_, Why::NotFound) => StepResult::NotFound,
        (StepStatus::Failed, _) => StepResult::Failed,
        (StepStatus::Skipped, _) => StepResult::Skipped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(enabled: bool) -> UserState {
        UserState {
            id: "id1".into(),
            user_principal_name: None,
            account_enabled: Some(enabled),
            on_premises_sync_enabled: false,
            last_password_change_date_time: None,
            sign_in_sessions_valid_from_date_time: None,
            user_type: None,
        }
    }

    fn step(kind: StepKind) -> Step {
        Step {
            id: "s".into(),
            name: None,
            kind,
            when: None,
            retries: None,
            continue_on_error: false,
            location: None,
        }
    }

    fn planned(marks: &[Mark], enabled: bool) -> PlannedUser {
        PlannedUser {
            user_id: Some(crate::journal::key_hash("id1")),
            account_enabled: Some(enabled),
            marks: marks.into(),
        }
    }

    #[test]
    fn apply_does_only_what_still_holds() {
        let allow = step(StepKind::Ensure(EnsureKind::SignInAllowed));
        let revoke = step(StepKind::RevokeSessions);
        // Planned false → true and still false: do it.
        assert!(gate_step(&planned(&[Mark::Change], false), 0, &allow, &state(false)).is_none());
        // Enabled by someone else since: drifted, not changed.
        let o = gate_step(&planned(&[Mark::Change], false), 0, &allow, &state(true)).unwrap();
        assert_eq!((o.status, o.why), (StepStatus::Skipped, Why::Drifted));
        assert_eq!(o.code.as_deref(), Some("drifted"));
        // Planned ok, now disabled: drifted, not changed.
        let o = gate_step(&planned(&[Mark::Ok], true), 0, &allow, &state(false)).unwrap();
        assert_eq!(o.why, Why::Drifted);
        let o = gate_step(&planned(&[Mark::Ok], true), 0, &allow, &state(true)).unwrap();
        assert_eq!(o.status, StepStatus::Ok);
        // Unplanned steps are skipped; planned actions run.
        let o = gate_step(&planned(&[Mark::Nothing], true), 0, &revoke, &state(true)).unwrap();
        assert_eq!(o.why, Why::NotPlanned);
        assert!(gate_step(&planned(&[Mark::Change], true), 0, &revoke, &state(true)).is_none());
        let mut other = state(true);
        other.id = "id2".into();
        assert!(user_drift(&planned(&[Mark::Change], true), &other).is_some());
        assert!(user_drift(&planned(&[Mark::Change], true), &state(true)).is_none());
    }

    #[test]
    fn plan_lines_rank_the_user_result() {
        let steps = [
            step(StepKind::RevokeSessions),
            step(StepKind::Ensure(EnsureKind::SignInAllowed)),
        ];
        let row = Row {
            row: 2,
            key: "a@x.com".into(),
            values: Vec::new(),
        };
        let would = StepOutcome::new(StepStatus::WouldChange, "x").with_change(Some(false), true);
        let cond =
            StepOutcome::because(StepStatus::Skipped, Why::ConditionFalse, "condition false");
        let line = plan_line(
            &row,
            Some(&state(false)),
            &steps,
            &[Some(cond.clone()), Some(would)],
        );
        assert_eq!(line.result, UserResult::WouldChange);
        assert_eq!(line.steps[0].result, StepResult::ConditionFalse);
        assert_eq!(line.steps[1].change.as_ref().unwrap().before, Some(false));
        assert_eq!(line.before.unwrap().account_enabled, Some(false));
        let nf = StepOutcome::because(StepStatus::Failed, Why::NotFound, "user not found");
        let line = plan_line(&row, None, &steps, &[Some(nf.clone()), Some(nf)]);
        assert_eq!(line.result, UserResult::NotFound);
        assert_eq!(line.reason.as_deref(), Some("user not found"));
    }
}
