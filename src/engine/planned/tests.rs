use super::*;
use crate::directory::{Change, Value};
use crate::graph::GraphDirectory;
use crate::plan::PlannedStep;
use crate::steps::{RevokeSessions, SignIn, StepKind};

fn state(enabled: bool) -> Account {
    Account {
        id: "id1".into(),
        name: None,
        enabled: Some(enabled),
        synced: false,
        password_changed: None,
        sessions_valid_from: None,
        kind: None,
        locked: None,
        federated: None,
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
        target: 0,
        location: None,
    }
}

/// A plan line's marks, with the `accountEnabled` it saw recorded for
/// the steps it would change.
fn planned(marks: &[Mark], enabled: bool) -> PlannedUser {
    PlannedUser {
        user_id: Some(crate::journal::key_hash("id1")),
        saw: Some(
            crate::directory::Property::ALL
                .map(|p| crate::directory::value_hash(state(enabled).get(p).as_ref())),
        ),
        others: Vec::new(),
        steps: marks
            .iter()
            .map(|&mark| PlannedStep {
                mark,
                change: (mark == Mark::Change).then(|| Change {
                    property: "accountEnabled".into(),
                    before: Some(Value::Bool(enabled)),
                    after: Value::Bool(!enabled),
                }),
            })
            .collect(),
    }
}

const LABEL: Label = GraphDirectory::label;

#[test]
fn apply_does_only_what_still_holds() {
    let allow = step(StepKind::SignIn(SignIn::ALLOWED));
    let revoke = step(StepKind::RevokeSessions(RevokeSessions));
    let gate = |p: &PlannedUser, s: &Step, a: &Account| gate_step(p, 0, s, a, LABEL);
    // Planned false → true and still false: do it.
    assert!(gate(&planned(&[Mark::Change], false), &allow, &state(false)).is_none());
    // Enabled by someone else since: drifted, not changed.
    let o = gate(&planned(&[Mark::Change], false), &allow, &state(true)).unwrap();
    assert_eq!((o.status, o.why), (StepStatus::Skipped, Why::Drifted));
    assert_eq!(o.code.as_deref(), Some("drifted"));
    assert_eq!(
        o.reason.as_deref(),
        Some(
            "drifted since the plan: accountEnabled is now true, the plan saw false (planned false → true); not changed"
        )
    );
    // Planned ok, now disabled: drifted, not changed.
    let o = gate(&planned(&[Mark::Ok], true), &allow, &state(false)).unwrap();
    assert_eq!(o.why, Why::Drifted);
    let o = gate(&planned(&[Mark::Ok], true), &allow, &state(true)).unwrap();
    assert_eq!(o.status, StepStatus::Ok);
    assert_eq!(
        o.reason.as_deref(),
        Some("accountEnabled still true, as planned")
    );
    // Unplanned steps are skipped; planned actions run.
    let o = gate(&planned(&[Mark::Nothing], true), &revoke, &state(true)).unwrap();
    assert_eq!(o.why, Why::NotPlanned);
    assert!(gate(&planned(&[Mark::Change], true), &revoke, &state(true)).is_none());
    let mut other = state(true);
    other.id = "id2".into();
    assert!(user_drift(&planned(&[Mark::Change], true), 0, &other).is_some());
    assert!(user_drift(&planned(&[Mark::Change], true), 0, &state(true)).is_none());
}

#[test]
fn a_planned_reset_drifts_when_the_password_changed_since_the_plan() {
    use crate::steps::{PasswordSource, ResetPassword};
    let reset = step(StepKind::ResetPassword(ResetPassword {
        password: PasswordSource::Generate,
        force_change_at_next_sign_in: true,
        force_change_with_mfa: false,
        reset_synced_in_cloud: false,
    }));
    let revoke = step(StepKind::RevokeSessions(RevokeSessions));
    let at = |pw: &str, sessions: &str| Account {
        password_changed: Some(pw.into()),
        sessions_valid_from: Some(sessions.into()),
        ..state(true)
    };
    let seen = at("2026-01-01T00:00:00Z", "2026-01-01T00:00:00Z");
    let mut p = planned(&[Mark::Change], true);
    p.saw = Some(
        crate::directory::Property::ALL.map(|q| crate::directory::value_hash(seen.get(q).as_ref())),
    );
    // As the plan saw it: reset.
    assert!(gate_step(&p, 0, &reset, &seen, LABEL).is_none());
    // Reset by someone else (or by a first apply of this plan): drifted.
    let moved = at("2026-01-02T09:00:00Z", "2026-01-01T00:00:00Z");
    let o = gate_step(&p, 0, &reset, &moved, LABEL).unwrap();
    assert_eq!((o.status, o.why), (StepStatus::Skipped, Why::Drifted));
    assert!(
        o.reason
            .as_deref()
            .unwrap()
            .starts_with("drifted since the plan: lastPasswordChangeDateTime moved since the plan (now 2026-01-02T09:00:00Z)"),
        "{o:?}"
    );
    // Sessions revoked since the plan: a planned revocation still runs.
    let revoked = at("2026-01-01T00:00:00Z", "2026-01-02T09:00:00Z");
    assert!(gate_step(&p, 0, &revoke, &revoked, LABEL).is_none());
    // A plan that did not record the account (older plans): no drift.
    p.saw = None;
    assert!(gate_step(&p, 0, &reset, &moved, LABEL).is_none());
}

#[test]
fn plan_lines_rank_the_user_result() {
    let steps = [
        step(StepKind::RevokeSessions(RevokeSessions)),
        step(StepKind::SignIn(SignIn::ALLOWED)),
    ];
    let row = Row {
        row: 2,
        key: "a@x.com".into(),
        values: Vec::new(),
    };
    let would = StepOutcome::new(StepStatus::WouldChange, "x").with_change(Some(Change {
        property: "accountEnabled".into(),
        before: Some(Value::Bool(false)),
        after: Value::Bool(true),
    }));
    let cond = StepOutcome::because(StepStatus::Skipped, Why::ConditionFalse, "condition false");
    let line = plan_line(
        &row,
        &[state(false)],
        &[],
        &steps,
        &[Some(cond.clone()), Some(would)],
    );
    assert_eq!(line.result, UserResult::WouldChange);
    assert_eq!(line.steps[0].result, StepResult::ConditionFalse);
    assert_eq!(
        line.steps[1].change.as_ref().unwrap().before,
        Some(Value::Bool(false))
    );
    assert_eq!(line.before.unwrap().account_enabled, Some(false));
    let nf = StepOutcome::because(StepStatus::Failed, Why::NotFound, "user not found");
    let line = plan_line(&row, &[], &[], &steps, &[Some(nf.clone()), Some(nf)]);
    assert_eq!(line.result, UserResult::NotFound);
    assert_eq!(line.reason.as_deref(), Some("user not found"));
}
