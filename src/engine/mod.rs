//! The run engine, provider-agnostic: streams rows from the CSV into a
//! bounded pool of concurrent per-user tasks, applies the playbook to each
//! (`user`) through the [`Directory`] seam, retries transient failures with
//! jittered backoff and confirms one-shot actions whose fate is unknown
//! (`backoff`, `retry`), enforces `max_failures`, and reports progress as
//! [`RunEvent`]s (`events`), the measured traffic among them (`traffic`:
//! the rate of answers and the time paused by throttling, also returned
//! in [`Totals`] for the run's record). Its [`Mode`] says whether it changes
//! accounts, only reads them (optionally writing a plan), or applies a
//! plan (`planned`). It never prints and never exits.

pub mod backoff;
pub mod events;
mod outcome;
mod planned;
pub mod retry;
pub mod traffic;
pub mod user;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use futures::StreamExt;
use secrecy::SecretString;
use tokio::sync::mpsc;

pub use events::RunEvent;

use crate::directory::{Account, Directory, Traffic};
use crate::journal::{Journal, Replay};
use crate::plan::{PlanIndex, PlanWriter};
use crate::playbook::{FailureLimit, Playbook};

/// How often the display hears the run's traffic.
const PACE_EVERY: std::time::Duration = std::time::Duration::from_millis(500);
/// The window the rate of answers is measured over: four ticks, so that
/// it does not flicker.
const RATE_WINDOW: std::time::Duration = std::time::Duration::from_secs(2);

/// One user row, reduced to what the playbook reads.
#[derive(Clone)]
pub struct Row {
    /// 1-based spreadsheet row.
    pub row: u64,
    /// The `input.key` cell.
    pub key: String,
    /// Cells of the declared columns, in `Context::columns` order.
    pub values: Vec<String>,
}

/// Cells are not shown: a column may hold the password a template reads.
impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("row", &self.row)
            .field("key", &self.key)
            .field("values", &format_args!("[{} cells]", self.values.len()))
            .finish()
    }
}

/// The accounts a run has claimed, by the 64-bit hash of their object id:
/// 8 bytes per account in this run, and the row of each account the
/// resumed run acted on (those rows may take it again).
#[derive(Debug, Default)]
struct Claims {
    seen: std::collections::HashSet<u64>,
    resumed: HashMap<u64, u64>,
}

/// What the run does to accounts.
pub enum Mode {
    /// Changes accounts.
    Live,
    /// Reads every account and reports what would change; with a plan
    /// writer, also saves one plan line per user.
    DryRun { plan: Option<PlanWriter> },
    /// Does only what this plan says would change, re-checking each user.
    Apply(Arc<PlanIndex>),
}

impl Mode {
    pub fn is_dry_run(&self) -> bool {
        matches!(self, Mode::DryRun { .. })
    }

    fn planned(&self) -> Option<&PlanIndex> {
        match self {
            Mode::Apply(plan) => Some(plan),
            Mode::Live | Mode::DryRun { .. } => None,
        }
    }

    fn plan_writer(&self) -> Option<&PlanWriter> {
        match self {
            Mode::DryRun { plan } => plan.as_ref(),
            Mode::Live | Mode::Apply(_) => None,
        }
    }
}

/// Everything a user task needs, shared by all of them.
pub struct Context {
    /// One per playbook target, by [`crate::playbook::Step::target`].
    pub directories: Vec<Directory>,
    pub playbook: Arc<Playbook>,
    /// Declared columns, in the order of `Row::values`.
    pub columns: Vec<String>,
    pub journal: Option<Journal>,
    pub mode: Mode,
    /// Passwords already in `secrets.csv` (a resumed run reuses them).
    pub saved_passwords: HashMap<String, SecretString>,
    /// Accounts this run (and the run it resumes) acted on.
    accounts: std::sync::Mutex<Claims>,
    /// Raised by Ctrl-C or a guard: user tasks start no new step.
    pub stop: StopSignal,
    events: mpsc::UnboundedSender<RunEvent>,
    /// The throttling pauses announced so far.
    pauses: std::sync::Mutex<traffic::Pauses>,
}

impl Context {
    pub fn new(
        directories: Vec<Directory>,
        playbook: Arc<Playbook>,
        journal: Option<Journal>,
        mode: Mode,
        saved_passwords: HashMap<String, SecretString>,
        events: mpsc::UnboundedSender<RunEvent>,
    ) -> Self {
        Context {
            directories,
            columns: playbook.input.columns.clone(),
            playbook,
            journal,
            mode,
            saved_passwords,
            accounts: std::sync::Mutex::default(),
            stop: StopSignal::default(),
            events,
            pauses: std::sync::Mutex::default(),
        }
    }

    /// The directory of target `t` (the first one for an index out of
    /// range, which a checked playbook never has).
    pub fn dir(&self, t: usize) -> &Directory {
        self.directories.get(t).unwrap_or(&self.directories[0])
    }

    /// Claims account `id` for `row`: `false` when another row already
    /// claimed it in this run (or the run it resumes). An account named
    /// twice in a CSV (by UPN and by object id, or by two aliases) is
    /// processed once.
    pub fn claim(&self, id: &str, row: u64) -> bool {
        let mut claims = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let h = crate::journal::key_hash(id);
        match claims.resumed.get(&h) {
            // The resumed run acted on it: only for the same row again.
            Some(&first) => first == row,
            None => claims.seen.insert(h),
        }
    }

    /// Seeds the claims with what a resumed run's journal acted on, and
    /// room for `users` accounts (so the set never grows by doubling
    /// while a million-user run is in flight).
    pub fn seed_accounts(&self, journaled: Option<&HashMap<u64, u64>>, users: u64) {
        let mut claims = self
            .accounts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        claims.seen.reserve(usize::try_from(users).unwrap_or(0));
        if let Some(j) = journaled {
            claims.resumed.extend(j.iter().map(|(k, v)| (*k, *v)));
        }
    }

    /// Evaluates step `i`'s `when` for a row (true when it has none). The
    /// condition was compiled once, when the playbook was checked.
    pub fn condition(&self, i: usize, row: &minijinja::Value) -> Result<bool, String> {
        match self.playbook.steps.get(i).and_then(|s| s.when.as_ref()) {
            None => Ok(true),
            Some(c) => c.eval(row),
        }
    }

    /// Renders a `{{ }}` template for a row.
    pub fn render(&self, template: &str, row: &minijinja::Value) -> Result<String, String> {
        crate::playbook::expr::render(crate::playbook::expr::shared(), template, row)
    }

    /// Takes the journal and the plan writer back once the run is over.
    pub fn finish(self) -> (Option<Journal>, Option<PlanWriter>) {
        let plan = match self.mode {
            Mode::DryRun { plan } => plan,
            Mode::Live | Mode::Apply(_) => None,
        };
        (self.journal, plan)
    }

    /// Adds a finished user to the plan being made, if any.
    fn plan_user(
        &self,
        row: &Row,
        accounts: &[Account],
        outcomes: &[Option<outcome::StepOutcome>],
    ) {
        if let Some(plan) = self.mode.plan_writer() {
            plan.write(planned::plan_line(
                row,
                accounts,
                &self.playbook.targets,
                &self.playbook.steps,
                outcomes,
            ));
        }
    }

    pub fn event(&self, e: RunEvent) {
        if let RunEvent::Throttled { for_ } = &e {
            let mut pauses = self
                .pauses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // Taken under the lock, so pauses are recorded in order.
            pauses.add(tokio::time::Instant::now(), *for_);
        }
        let _ = self.events.send(e);
    }

    /// Every directory's traffic, summed.
    pub fn traffic(&self) -> Traffic {
        self.directories.iter().map(Directory::traffic).sum()
    }

    /// Time every worker spent paused by throttling so far (overlapping
    /// pauses count once).
    pub fn paused(&self) -> std::time::Duration {
        self.pauses
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .total(tokio::time::Instant::now())
    }

    pub fn failure(&self, row: &Row, step: &str, reason: &str) {
        // The key came from the CSV and the reason often from Graph.
        tracing::info!(
            row = row.row,
            user = %crate::report::one_line(&row.key),
            step,
            reason = %crate::report::one_line(reason),
            "user failed"
        );
        self.event(RunEvent::Failure {
            user: row.key.clone(),
            step: step.to_owned(),
            reason: reason.to_owned(),
        });
    }
}

/// Why scheduling stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stopped {
    /// `max_failures` was exceeded.
    Guard(String),
    /// Ctrl-C or SIGTERM.
    Interrupted,
}

/// Counts at the end of a run.
#[derive(Debug, Clone, Default)]
pub struct Totals {
    /// Users processed by this invocation.
    pub processed: u64,
    pub failed: u64,
    /// Users a resumed run found finished already.
    pub done_earlier: u64,
    pub stopped: Option<Stopped>,
    /// What this invocation sent, summed over the directories.
    pub traffic: Traffic,
    /// Time this invocation spent paused by throttling.
    pub paused: std::time::Duration,
}

/// A handle that stops the run (Ctrl-C, guards): no new user and no new
/// step starts once it is raised; requests already sent finish. It also
/// counts the steps whose request is under way (intent journaled, not yet
/// answered), so the operator hears how many are left.
#[derive(Debug, Clone, Default)]
pub struct StopSignal(Arc<StopState>);

#[derive(Debug, Default)]
struct StopState {
    stopped: AtomicBool,
    in_flight: AtomicUsize,
}

impl StopSignal {
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
    }

    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Steps whose request is under way now.
    pub fn in_flight(&self) -> usize {
        self.0.in_flight.load(Ordering::SeqCst)
    }

    /// Counts one step's request in flight until the guard drops.
    pub fn request(&self) -> InFlight {
        self.0.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.0.clone())
    }
}

/// One request counted by [`StopSignal::in_flight`].
#[derive(Debug)]
pub struct InFlight(Arc<StopState>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Applies the playbook to every row received, `users_in_flight` users at
/// a time, until the rows end or `stop` is raised. (With batching, enough
/// users must be in flight to fill `concurrency` batches of 20.)
pub async fn drive(
    cx: Arc<Context>,
    mut rows: mpsc::Receiver<Row>,
    replay: Option<Arc<Replay>>,
    users_in_flight: usize,
    total_users: u64,
    max_failures: Option<FailureLimit>,
    stop: StopSignal,
) -> Totals {
    cx.seed_accounts(replay.as_ref().map(|r| &r.accounts), total_users);
    let failed = Arc::new(AtomicU64::new(0));
    let processed = Arc::new(AtomicU64::new(0));
    let done_earlier = Arc::new(AtomicU64::new(0));
    let guard: Arc<std::sync::Mutex<Option<Stopped>>> = Arc::default();
    let allowed = max_failures.map(|m| m.allowed(total_users));

    // The display hears the measured traffic while users run, and once
    // more at the end.
    let (pace_done, mut pace_stop) = tokio::sync::oneshot::channel::<()>();
    let pace = {
        let cx = cx.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PACE_EVERY);
            let mut rate = traffic::Rate::new(RATE_WINDOW);
            loop {
                let last = tokio::select! {
                    _ = tick.tick() => false,
                    _ = &mut pace_stop => true,
                };
                let t = cx.traffic();
                cx.event(RunEvent::Pace {
                    answered_per_second: rate.sample(tokio::time::Instant::now(), t.answered),
                    answered: t.answered,
                    throttled: t.throttled,
                    budget_per_second: t.budget_per_second,
                });
                if last {
                    return;
                }
            }
        })
    };
    let source = futures::stream::poll_fn(|cx| rows.poll_recv(cx));
    let stop_pull = stop.clone();
    source
        .take_while(move |_| std::future::ready(!stop_pull.is_stopped()))
        .map(|row| {
            let cx = cx.clone();
            let replay = replay.clone();
            let failed = failed.clone();
            let processed = processed.clone();
            let done_earlier = done_earlier.clone();
            let guard = guard.clone();
            let stop = stop.clone();
            async move {
                if replay.as_ref().is_some_and(|r| r.is_done(&row.key)) {
                    // Counted as finished by `RunEvent::Total::already_done`.
                    done_earlier.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                let progress = replay.as_ref().and_then(|r| r.partial.get(&row.key.to_ascii_lowercase()));
                let result = user::process(&cx, &row, progress).await;
                if result.interrupted {
                    // Left for `--resume`: no `user_done`, not counted.
                    return;
                }
                processed.fetch_add(1, Ordering::Relaxed);
                cx.event(RunEvent::UserFinished { failed: result.failed });
                if result.failed {
                    let n = failed.fetch_add(1, Ordering::SeqCst) + 1;
                    if let Some(allowed) = allowed
                        && n > allowed
                        && !stop.is_stopped()
                    {
                        let reason = format!("{n} users failed, more than `max_failures` allows ({allowed} of {total_users})");
                        stop.stop();
                        cx.event(RunEvent::GuardTripped { reason: reason.clone() });
                        guard.lock().unwrap_or_else(std::sync::PoisonError::into_inner).get_or_insert(Stopped::Guard(reason));
                    }
                }
            }
        })
        .buffer_unordered(users_in_flight.max(1))
        .for_each(|()| std::future::ready(()))
        .await;

    let _ = pace_done.send(());
    // Wait for the task to end, so its handle on the context is dropped
    // and the caller can take the journal (and plan) back.
    let _ = pace.await;
    let stopped = guard
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    Totals {
        processed: processed.load(Ordering::Relaxed),
        failed: failed.load(Ordering::Relaxed),
        done_earlier: done_earlier.load(Ordering::Relaxed),
        stopped: stopped.or_else(|| stop.is_stopped().then_some(Stopped::Interrupted)),
        traffic: cx.traffic(),
        paused: cx.paused(),
    }
}

#[cfg(test)]
mod tests {
    use super::Row;

    #[test]
    fn debug_of_a_row_shows_no_cell() {
        let row = Row {
            row: 7,
            key: "a@b.com".into(),
            values: vec!["Temp-Pass-4821!".into(), "yes".into()],
        };
        let shown = format!("{row:?}");
        assert!(
            shown.contains("a@b.com") && shown.contains("2 cells"),
            "{shown}"
        );
        assert!(!shown.contains("Temp-Pass"), "{shown}");
    }
}
