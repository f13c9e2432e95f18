//! The engine's plan modes. A dry run that makes a plan turns each user's
//! outcomes into a plan line ([`plan_line`]); `apply` consults the plan
//! before each step ([`gate_step`]) so that only planned changes are made,
//! and a user whose state moved since the plan is reported as drifted
//! instead of being changed. What counts as drift is the step kind's
//! evidence (`steps/evidence.rs`): a desired state drifts when its
//! property moved; a one-shot action drifts when its kind says so (a
//! reset, when the password changed since the plan) and its timestamp
//! moved.

use crate::directory::Account;
use crate::engine::Row;
use crate::engine::outcome::{StepOutcome, Why};
use crate::journal::{Before, StepStatus};
use crate::plan::{Mark, PlanAccount, PlanStep, PlanUser, PlannedUser, StepResult, UserResult};
use crate::playbook::Step;
use crate::playbook::checked::TargetSpec;
use crate::steps::Label;

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
pub fn user_drift(planned: &PlannedUser, target: usize, account: &Account) -> Option<StepOutcome> {
    (!planned.same_account(target, &account.id)).then(|| {
        drifted(format!(
            "drifted since the plan: the account now has object id {} (deleted and re-created?); not changed",
            account.id
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
    account: &Account,
    label: Label,
) -> Option<StepOutcome> {
    let evidence = step.kind.kind().evidence();
    let name = match &evidence {
        crate::steps::Evidence::Holds { property, .. }
        | crate::steps::Evidence::Moves(property) => label(*property),
    };
    match planned.mark(i) {
        Mark::Nothing => Some(StepOutcome::because(
            StepStatus::Skipped,
            Why::NotPlanned,
            "not in the plan: nothing to do for this step",
        )),
        Mark::Change => {
            let change = planned.steps.get(i).and_then(|s| s.change.as_ref());
            let (property, moved_drifts) = match &evidence {
                crate::steps::Evidence::Holds { property, .. } => (*property, false),
                crate::steps::Evidence::Moves(p) => (*p, step.kind.kind().drifts_when_moved()),
            };
            evidence
                .drifted(
                    change,
                    planned.saw(step.target, property),
                    moved_drifts,
                    account,
                    name,
                )
                .map(drifted)
        }
        Mark::Ok => Some(match evidence.still_ok(account, name) {
            Ok(text) => StepOutcome::new(StepStatus::Ok, text),
            Err(reason) => drifted(reason),
        }),
    }
}

/// A dry run's outcomes for one user, as a plan line.
pub fn plan_line(
    row: &Row,
    accounts: &[Account],
    targets: &[TargetSpec],
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
        user_id: accounts.first().map(|a| a.id.clone()),
        before: accounts.first().map(Before::of),
        others: accounts
            .iter()
            .zip(targets)
            .skip(1)
            .map(|(a, t)| PlanAccount {
                target: t.name.clone(),
                user_id: a.id.clone(),
                before: Before::of(a),
            })
            .collect(),
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
mod tests;
