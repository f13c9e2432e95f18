//! One user through the playbook: read the user, check the protection
//! guards, then each step in order, each with its intent journaled before
//! the request and its outcome after.
//!
//! What a step means comes from its kind (`steps/`): whether the account
//! needs it, the operation, and the evidence that it happened. One-shot
//! actions are where a repeat would hurt, so whenever their request may or
//! may not have reached the directory (a dropped connection, a timeout, a
//! gateway error, an unreadable success, a `$batch` answer that lost or
//! repeated it, an intent left by a killed run) the account is read back
//! and the action is repeated only if its evidence says it did not happen.

use std::time::Duration;

use secrecy::SecretString;
use tokio::time::Instant;

use crate::directory::{Account, DirError, ErrorKind, Privileges};
use crate::engine::events::RunEvent;
use crate::engine::outcome::{StepOutcome, Why};
use crate::engine::planned;
use crate::engine::retry::{once_only, retrying};
use crate::engine::{Context, Row};
use crate::journal::{Before, Record, StepStatus, UserProgress, UserStatus};
use crate::playbook::{PimEligibility, Step};
use crate::steps::{Decision, Evidence, Prepare, Prepared};

/// Default extra attempts of a step after a transient failure.
pub const DEFAULT_RETRIES: u32 = 5;
/// How long one user may take, retries included, before it is failed.
pub const USER_DEADLINE: Duration = Duration::from_secs(15 * 60);

/// How one user ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserResult {
    pub failed: bool,
    /// The run was stopped before the user's remaining steps started: they
    /// have no outcome and the user no `user_done`, so `--resume` does
    /// them.
    pub interrupted: bool,
}

/// A user left for `--resume` by a stopped run.
const INTERRUPTED: UserResult = UserResult {
    failed: false,
    interrupted: true,
};

/// Runs every step of the playbook for one row.
pub async fn process(cx: &Context, row: &Row, progress: Option<&UserProgress>) -> UserResult {
    let deadline = Instant::now() + USER_DEADLINE;
    let steps = &cx.playbook.steps;
    if cx.stop.is_stopped() {
        return INTERRUPTED;
    }
    let mut outcomes: Vec<Option<StepOutcome>> = steps.iter().map(|_| None).collect();

    // Protected by name: nothing is read or touched.
    if let Some(o) = protected_by_name(cx, [row.key.as_str()], false) {
        return finish_all(cx, row, &[], &mut outcomes, &o, UserStatus::Skipped);
    }

    // Apply: a user the plan has nothing for is not even read.
    let planned = match cx.mode.planned().map(|p| p.get(&row.key)) {
        Some(None) => {
            let o = planned::not_planned();
            return finish_all(cx, row, &[], &mut outcomes, &o, UserStatus::Skipped);
        }
        Some(Some(p)) => Some(p),
        None => None,
    };

    // The person is read in every directory the steps act on (a hybrid
    // playbook: on-premises and cloud), and left alone everywhere when any
    // of them protects it.
    let mut states: Vec<Account> = Vec::with_capacity(cx.directories.len());
    for t in 0..cx.directories.len() {
        let state = match read_user(cx, t, &row.key, deadline).await {
            Ok((s, _)) => s,
            Err((e, attempts)) => {
                let reason = match (e.kind == ErrorKind::NotFound, target_note(cx, t)) {
                    (true, note) => format!("user not found{note}: {e}"),
                    (false, note) if !note.is_empty() => format!("{}: {e}", note.trim_start()),
                    (false, _) => e.to_string(),
                };
                cx.failure(row, "read", &reason);
                let mut o = StepOutcome::failed(&e, attempts);
                o.reason = Some(reason);
                if e.kind == ErrorKind::NotFound {
                    o.why = Why::NotFound;
                }
                fail_remaining(&mut outcomes, steps, progress, &o);
                return record_all(cx, row, &states, outcomes, true);
            }
        };
        if let Some(o) = left_alone(cx, row, t, &state, planned) {
            states.push(state);
            return finish_all(cx, row, &states, &mut outcomes, &o, UserStatus::Skipped);
        }
        if cx.playbook.guards.protect_privileged {
            let subject = state.name.as_deref().unwrap_or(state.id.as_str());
            let unlicensed_protects =
                cx.playbook.guards.pim_eligibility == PimEligibility::Required;
            match privileges(cx, t, &state.id, deadline).await {
                Ok(found) => {
                    // Protected when anything makes the account privileged,
                    // and when an answer cannot rule that out.
                    if let Some(reason) = found.protection(subject, unlicensed_protects) {
                        let reason = format!("{reason}{}", target_note(cx, t));
                        let o = StepOutcome::because(StepStatus::Skipped, Why::Protected, reason);
                        states.push(state);
                        return finish_all(
                            cx,
                            row,
                            &states,
                            &mut outcomes,
                            &o,
                            UserStatus::Skipped,
                        );
                    }
                }
                Err((e, attempts)) => {
                    // No answer even after retries: refuse to touch the user
                    // rather than risk an admin.
                    cx.failure(row, "protect", &e.to_string());
                    let mut o = StepOutcome::failed(&e, attempts);
                    o.reason = Some(format!(
                        "cannot check whether the user is privileged{}: {}",
                        target_note(cx, t),
                        o.reason.unwrap_or_default()
                    ));
                    fail_remaining(&mut outcomes, steps, progress, &o);
                    states.push(state);
                    return record_all(cx, row, &states, outcomes, true);
                }
            }
        }
        states.push(state);
    }

    // A one-shot action may move other timestamps too (a reset can move
    // the sessions' valid-from time): the next one-shot step reads the
    // account again, so its evidence starts from what is true then.
    let mut stale = vec![false; states.len()];
    let mut failed_before = false;
    let row_context = row_context(cx, row);
    // The outcome of a step sent together with the one before it.
    let mut folded: Option<(usize, StepOutcome)> = None;
    for (i, step) in steps.iter().enumerate() {
        if let Some(status) = progress.and_then(|p| p.outcomes.get(&step.id)).copied() {
            failed_before |= status == StepStatus::Failed;
            outcomes[i] = Some(StepOutcome::earlier(status));
            continue;
        }
        let carried = folded.take().filter(|(j, _)| *j == i).map(|(_, o)| o);
        if carried.is_none() && cx.stop.is_stopped() {
            // Ctrl-C: no new step starts; the steps done so far are
            // journaled, the rest is left for `--resume`.
            return INTERRUPTED;
        }
        let outcome = if let Some(o) = carried {
            o
        } else if !failed_before
            && let Some(next) = foldable(cx, i, progress, planned, &states, &row_context)
        {
            let t = step.target;
            let (first, second) = run_folded(
                cx,
                row,
                [step, &steps[next]],
                (&mut states[t], &mut stale[t]),
                &row_context,
                deadline,
            )
            .await;
            if let Some(o) = second {
                folded = Some((next, o));
            }
            first
        } else if failed_before && !step.continue_on_error {
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
                        step.when.as_ref().map_or("", |c| c.text())
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
                    let t = step.target.min(states.len() - 1);
                    let gate = planned.filter(|_| pending.is_none()).and_then(|p| {
                        planned::gate_step(p, i, step, &states[t], cx.dir(t).label_fn())
                    });
                    match gate {
                        Some(o) => o,
                        None => {
                            run_step(
                                cx,
                                row,
                                step,
                                (&mut states[t], &mut stale[t]),
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
    cx.plan_user(row, &states, &outcomes);
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
    states: &[Account],
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
    cx.plan_user(row, states, outcomes);
    user_done(cx, row, user_status);
    UserResult {
        failed: false,
        interrupted: false,
    }
}

fn record_all(
    cx: &Context,
    row: &Row,
    states: &[Account],
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
    cx.plan_user(row, states, &outcomes);
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
    UserResult {
        failed,
        interrupted: false,
    }
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

/// The outcome of a user `guards.protect.users` names by one of `names`
/// (compared case-insensitively, Unicode-aware): the CSV key, or the
/// account's object id and sign-in name once read.
fn protected_by_name<'a>(
    cx: &Context,
    names: impl IntoIterator<Item = &'a str>,
    as_read: bool,
) -> Option<StepOutcome> {
    let list = &cx.playbook.guards.protected_users;
    let found = names
        .into_iter()
        .map(str::to_lowercase)
        .find(|n| list.contains(n))?;
    let reason = if as_read {
        format!("protected: listed in guards.protect.users (the account read is {found})")
    } else {
        "protected: listed in guards.protect.users".to_owned()
    };
    Some(StepOutcome::because(
        StepStatus::Skipped,
        Why::Protected,
        reason,
    ))
}

fn notify(cx: &Context) -> impl Fn(RunEvent) + Sync + '_ {
    move |e| cx.event(e)
}

async fn read_user(
    cx: &Context,
    t: usize,
    key: &str,
    deadline: Instant,
) -> Result<(Account, u32), (DirError, u32)> {
    let notify = notify(cx);
    let dir = cx.dir(t);
    retrying(dir, &notify, DEFAULT_RETRIES, deadline, || dir.read(key)).await
}

/// What makes the account privileged; the whole check is retried when a
/// read got no definitive answer.
async fn privileges(
    cx: &Context,
    t: usize,
    id: &str,
    deadline: Instant,
) -> Result<Privileges, (DirError, u32)> {
    let notify = notify(cx);
    let dir = cx.dir(t);
    retrying(dir, &notify, DEFAULT_RETRIES, deadline, || {
        dir.privileges(id)
    })
    .await
    .map(|(found, _)| found)
}

async fn federated(
    cx: &Context,
    t: usize,
    account: &Account,
    deadline: Instant,
) -> Result<bool, (DirError, u32)> {
    let notify = notify(cx);
    let dir = cx.dir(t);
    retrying(dir, &notify, DEFAULT_RETRIES, deadline, || {
        dir.federated(account)
    })
    .await
    .map(|(f, _)| f)
}

/// ` (in target `onprem`)` in a hybrid playbook, else nothing: which
/// directory a read or a guard spoke of.
fn target_note(cx: &Context, t: usize) -> String {
    if cx.playbook.is_hybrid() {
        cx.playbook
            .targets
            .get(t)
            .map_or_else(String::new, |x| format!(" (in target `{}`)", x.name))
    } else {
        String::new()
    }
}

/// Why an account just read in target `t` is left alone, in this order:
/// protected as read (the list may name the account by its id or by a
/// sign-in name the CSV spells differently); named by another row
/// already (one account, once; the first target's account is the
/// person); drifted since the plan.
fn left_alone(
    cx: &Context,
    row: &Row,
    t: usize,
    state: &Account,
    planned: Option<&crate::plan::PlannedUser>,
) -> Option<StepOutcome> {
    let as_read = [Some(state.id.as_str()), state.name.as_deref()];
    protected_by_name(cx, as_read.into_iter().flatten(), true)
        .or_else(|| {
            (t == 0 && !cx.claim(&state.id, row.row)).then(|| {
                StepOutcome::because(
                    StepStatus::Skipped,
                    Why::Duplicate,
                    format!(
                        "another row of the CSV names the same account (object id {}); an account is processed once per run",
                        state.id
                    ),
                )
            })
        })
        .or_else(|| planned.and_then(|p| planned::user_drift(p, t, state)))
}

/// A step decided and prepared: what it will do, its operation and how to
/// tell afterwards that it happened.
struct Ready {
    would: String,
    change: Option<crate::directory::Change>,
    prepared: Prepared,
    evidence: Evidence,
}

/// Decides and prepares one step for the account as read: `Err` is the
/// step's outcome when nothing is to be sent (satisfied, not applicable,
/// a dry run, a killed run's action confirmed, or a failure first).
async fn ready(
    cx: &Context,
    row: &Row,
    step: &Step,
    (state, stale): (&mut Account, &mut bool),
    pending: Option<&Before>,
    row_context: &minijinja::Value,
    deadline: Instant,
) -> Result<Ready, StepOutcome> {
    let kind = step.kind.kind();
    let t = step.target;
    let label = cx.dir(t).label_fn();
    let evidence = kind.evidence();
    if kind.needs_sign_in_authority() && state.federated.is_none() && !state.is_guest() {
        match federated(cx, t, state, deadline).await {
            Ok(f) => state.federated = Some(f),
            Err((e, attempts)) => {
                let mut o = StepOutcome::failed(&e, attempts);
                o.reason = Some(format!(
                    "cannot tell whether the account signs in with a password set here (its domain's sign-in could not be read); not sent: {}",
                    o.reason.unwrap_or_default()
                ));
                return Err(o);
            }
        }
    }
    let (would, change) = match kind.decide(state, label) {
        Decision::Satisfied(reason) => return Err(StepOutcome::new(StepStatus::Ok, reason)),
        Decision::NotApplicable(reason) => {
            return Err(StepOutcome::because(
                StepStatus::Skipped,
                Why::NotApplicable,
                reason,
            ));
        }
        Decision::Change { would, change } => (would, change),
    };
    if cx.mode.is_dry_run() {
        return Err(StepOutcome::new(StepStatus::WouldChange, would).with_change(change));
    }
    if let Some(b) = pending
        && matches!(evidence, Evidence::Moves(_))
        && evidence.happened(b, state)
    {
        // A killed run sent this action: trust the evidence.
        return Err(StepOutcome::new(StepStatus::Changed, kind.confirmed(label)));
    }
    if *stale && pending.is_none() && matches!(evidence, Evidence::Moves(_)) {
        match read_user(cx, t, &state.id, deadline).await {
            Ok((fresh, _)) => {
                *state = fresh;
                *stale = false;
            }
            Err((e, attempts)) => {
                let mut o = StepOutcome::failed(&e, attempts);
                o.reason = Some(format!(
                    "cannot read the account again before this step, so its effect could not be confirmed later; not sent: {}",
                    o.reason.unwrap_or_default()
                ));
                return Err(o);
            }
        }
    }
    let saved_password = pending.and_then(|_| {
        cx.saved_passwords
            .get(&row.key.to_ascii_lowercase())
            .cloned()
    });
    let render = |t: &str| cx.render(t, row_context);
    let prepared = kind
        .prepare(Prepare {
            render: &render,
            saved_password,
        })
        .map_err(|reason| StepOutcome::new(StepStatus::Failed, reason))?;
    Ok(Ready {
        would,
        change,
        prepared,
        evidence,
    })
}

async fn run_step(
    cx: &Context,
    row: &Row,
    step: &Step,
    (state, stale): (&mut Account, &mut bool),
    pending: Option<&Before>,
    row_context: &minijinja::Value,
    deadline: Instant,
) -> StepOutcome {
    match ready(
        cx,
        row,
        step,
        (state, stale),
        pending,
        row_context,
        deadline,
    )
    .await
    {
        Ok(r) => send(cx, row, &[(step, r)], (state, stale), deadline)
            .await
            .pop()
            .unwrap_or_else(|| StepOutcome::new(StepStatus::Failed, "nothing was sent")),
        Err(o) => o,
    }
}

/// Journals each step's intent, then sends their operations (one step's
/// alone, or steps the directory folds into one request) and returns each
/// step's outcome, in order.
///
/// Whenever an answer leaves the request's fate unknown, the account is
/// read back and the evidence decides: a one-shot action is never sent
/// twice, and no change that went through is reported failed. (Setting a
/// state is idempotent, so for it the read-back only spares a resend and
/// a false failure.) Folded steps share one request, which the directory
/// applies whole or not at all: their one-shot actions' evidence decides
/// for all of them (their desired states' evidence when they have none).
async fn send(
    cx: &Context,
    row: &Row,
    steps: &[(&Step, Ready)],
    (state, stale): (&mut Account, &mut bool),
    deadline: Instant,
) -> Vec<StepOutcome> {
    let Some(((first, _), _)) = steps.split_first() else {
        return Vec::new();
    };
    for (step, r) in steps {
        if let Err(e) = intent(cx, row, step, state, r.prepared.secret.as_ref()).await {
            let text = format!(
                "{} write failed, request not sent: {e}",
                step.kind.kind().journaled()
            );
            return steps
                .iter()
                .map(|_| StepOutcome::new(StepStatus::Failed, text.clone()))
                .collect();
        }
    }
    let retries = first.retries.unwrap_or(DEFAULT_RETRIES);
    let t = first.target;
    let notify = notify(cx);
    let dir = cx.dir(t);
    let ops: Vec<&crate::directory::Op> = steps.iter().map(|(_, r)| &r.prepared.op).collect();
    let once = steps
        .iter()
        .any(|(_, r)| matches!(r.evidence, Evidence::Moves(_)));
    let deciding: Vec<&Evidence> = steps
        .iter()
        .map(|(_, r)| &r.evidence)
        .filter(|e| matches!(e, Evidence::Moves(_)) == once)
        .collect();
    // Sent (its intent is journaled): it finishes even after Ctrl-C.
    let _in_flight = cx.stop.request();
    let before = Before::of(state);
    let sent = once_only(
        dir,
        &notify,
        retries,
        deadline,
        &state.id,
        |now| deciding.iter().all(|e| e.happened(&before, now)),
        || async {
            match ops.as_slice() {
                [op] => dir.apply(&state.id, op).await,
                _ => dir.apply_together(&state.id, &ops).await,
            }
        },
    )
    .await;
    match sent {
        Ok(attempts) => steps
            .iter()
            .map(|(_, r)| {
                match &r.evidence {
                    Evidence::Holds { property, want } => state.set(*property, want.clone()),
                    Evidence::Moves(_) => *stale = true,
                }
                let text = r.prepared.done.clone().unwrap_or_else(|| r.would.clone());
                StepOutcome {
                    attempts,
                    ..StepOutcome::new(StepStatus::Changed, text).with_change(r.change.clone())
                }
            })
            .collect(),
        Err((e, attempts)) => steps
            .iter()
            .map(|_| StepOutcome::failed(&e, attempts))
            .collect(),
    }
}

/// The step after `i`, when the two may be sent as one request: both run
/// now (no earlier outcome or intent, the next one's condition true,
/// neither held against a plan), on one target whose directory folds
/// their operations, and adjacent, so nothing the playbook orders between
/// them is moved.
fn foldable(
    cx: &Context,
    i: usize,
    progress: Option<&UserProgress>,
    planned: Option<&crate::plan::PlannedUser>,
    states: &[Account],
    row_context: &minijinja::Value,
) -> Option<usize> {
    let steps = &cx.playbook.steps;
    let (a, b) = (steps.get(i)?, steps.get(i + 1)?);
    let started = |s: &Step| {
        progress.is_some_and(|p| p.outcomes.contains_key(&s.id) || p.pending.contains_key(&s.id))
    };
    if cx.mode.is_dry_run()
        || a.target != b.target
        || started(a)
        || started(b)
        || !cx
            .dir(a.target)
            .folds(a.kind.kind().operation(), b.kind.kind().operation())
    {
        return None;
    }
    if !matches!(cx.condition(i, row_context), Ok(true))
        || !matches!(cx.condition(i + 1, row_context), Ok(true))
    {
        return None;
    }
    let state = states.get(a.target.min(states.len().checked_sub(1)?))?;
    let label = cx.dir(a.target).label_fn();
    if let Some(p) = planned
        && (planned::gate_step(p, i, a, state, label).is_some()
            || planned::gate_step(p, i + 1, b, state, label).is_some())
    {
        return None;
    }
    Some(i + 1)
}

/// Runs two foldable steps: when both need a change they are journaled
/// and sent as one request; otherwise the first runs alone and the second
/// is left to the loop (`None`).
async fn run_folded(
    cx: &Context,
    row: &Row,
    [a, b]: [&Step; 2],
    (state, stale): (&mut Account, &mut bool),
    row_context: &minijinja::Value,
    deadline: Instant,
) -> (StepOutcome, Option<StepOutcome>) {
    let first = match ready(cx, row, a, (state, stale), None, row_context, deadline).await {
        Ok(r) => r,
        Err(o) => return (o, None),
    };
    // The second's decision does not depend on the first's change: the
    // directory folds only operations on different properties.
    let together = match ready(cx, row, b, (state, stale), None, row_context, deadline).await {
        Ok(second) => vec![(a, first), (b, second)],
        Err(_) => vec![(a, first)],
    };
    let mut out = send(cx, row, &together, (state, stale), deadline)
        .await
        .into_iter();
    let first = out
        .next()
        .unwrap_or_else(|| StepOutcome::new(StepStatus::Failed, "nothing was sent"));
    (first, out.next())
}

/// Journals the intent durably (and the generated password, first) before
/// the request is sent.
async fn intent(
    cx: &Context,
    row: &Row,
    step: &Step,
    state: &Account,
    password: Option<&SecretString>,
) -> std::io::Result<()> {
    let Some(j) = &cx.journal else { return Ok(()) };
    let record = Record::Intent {
        row: row.row,
        user: row.key.clone(),
        step: step.id.clone(),
        user_id: state.id.clone(),
        before: Before::of(state),
        at: Some(crate::rundir::now_rfc3339()),
    };
    j.write_durable(&record, password.map(|p| (row.key.as_str(), p)))
        .await
}
