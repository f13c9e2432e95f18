//! One adaptive rate budget: a token bucket whose rate adapts to the
//! service's signals. [`super::Limiter`] keeps two, one for the resource
//! units every call costs and one for writes.
//!
//! - **The budget level.** Past 80 % of a limit Graph may add
//!   `x-ms-throttle-limit-percentage` (0.8 … 1.8) to its answers. It is a
//!   warning before any 429, so the budget steers by it: the first level
//!   seen ends slow start, and the rate is set to spend the budget that is
//!   left over a couple of seconds; after that, every [`EPOCH`] the rate
//!   grows a little while the level is low, holds while it sits just below
//!   the edge, and is cut (at most once per [`HOLD`], the time the level
//!   needs to answer a change) once it reaches [`LEVEL_HIGH`]. Like ECN in
//!   TCP, this finds the service's refill rate without refused calls.
//! - **429s.** A 429 pauses the budget for the server's `Retry-After` (no
//!   thundering herd) and cuts the rate once per episode, never aiming above
//!   the throughput the service sustained. Graph documents the level as
//!   sent only past 80 % of a limit, and not which limit, so its absence
//!   is never read as room: once refused, a budget that has seen no level
//!   *learns* the service's rate from what it let through since the first
//!   refusal (after it, the service's burst is spent, so successes over
//!   time are its refill rate, pauses included) and settles just below it,
//!   growing only slowly and only while calls wait for tokens. Each
//!   further refusal sharpens the estimate and halves the growth.
//!
//! A run starts at [`INITIAL_RATE`] with at most [`INITIAL_BURST`] units
//! available at once, so a small budget (tens of units) is not overrun
//! before its first answer comes back; a budget with a published quota
//! (Graph's writes) starts from that quota instead ([`Budget::with_prior`]).
//! (governor's quota is fixed when built, hence this small limiter.)

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Longest pause remedy accepts from one `Retry-After`: Graph asks to be
/// called again only after it, so a long one is honoured up to ten minutes
/// (each user's deadline still bounds the whole wait).
pub const MAX_PAUSE: Duration = Duration::from_secs(600);
/// The rate never drops below this (units per second).
pub const MIN_RATE: f64 = 0.5;
/// Cut applied to the rate on a 429.
const DECREASE: f64 = 0.7;
/// Rate a run starts at (20 `$batch` calls of 20 per second).
const INITIAL_RATE: f64 = 400.0;
/// Units available at once when a run starts: two full batches.
const INITIAL_BURST: f64 = 40.0;
/// Slow start: rate gained per successful unit (the rate roughly doubles
/// every 25 ms of successful traffic).
const SLOW_START_GAIN: f64 = 40.0;
/// Longest sleep while waiting for tokens before looking at the rate again.
const RECHECK: Duration = Duration::from_millis(10);
/// Seconds of traffic the bucket may hold (smooths, never bursts far).
const BURST_SECONDS: f64 = 0.25;
/// Slow start: units that may be sent beyond those that succeeded, per
/// unit that succeeded (after the first [`INITIAL_BURST`]). Graph shows a
/// level from 80 % of a budget on, so a budget that held N units without
/// one has at least N / 4 left: sending no more than 1.25 N in all, slow
/// start ends on the first level before anything is refused. (The rate
/// still grows by 25 % per round trip.)
const SLOW_START_WINDOW: f64 = 0.25;
/// Seconds of traffic one call may carry.
const CALL_SECONDS: f64 = 0.5;
/// The same, for a budget started from a published quota (writes).
const PRIOR_CALL_SECONDS: f64 = 0.1;

/// Graph shows the level only past this share of a limit.
const LEVEL_SHOWN: f64 = 0.8;
/// Below this level the service's budget still has room to grow into.
const LEVEL_HOLD: f64 = 0.85;
/// At or above this level the budget is nearly spent: slow down.
pub const LEVEL_HIGH: f64 = 0.95;
/// When slow start ends on the first level, what is left of the budget is
/// spread over this many seconds; the level then steers the rate.
const HEADROOM_SECONDS: f64 = 2.0;
/// How often the level adjusts the rate.
pub const EPOCH: Duration = Duration::from_millis(200);
/// After a cut for a high level, the next waits this long: the level moves
/// only as fast as the service refills its budget.
pub const HOLD: Duration = Duration::from_secs(1);
/// Cut for a high level (gentler than for a 429: nothing was refused).
const LEVEL_CUT: f64 = 0.85;
/// Growth of the first epoch with no level shown (later ones double it),
/// and of every epoch with a level below [`LEVEL_HOLD`].
const GROW_UNSEEN: f64 = 0.05;
/// Each further epoch without a level multiplies the step by this.
const UNSEEN_STEP_GROWTH: f64 = 2.0;
const GROW_LOW: f64 = 0.02;
/// Cut of a budget without levels refused again before enough got
/// through to estimate the service's rate.
const FAR_ABOVE: f64 = 0.5;
/// A budget that learned its rate from refusals aims this far below it.
const LEARNED_MARGIN: f64 = 0.97;
/// Growth per second of a learned budget after its first refusal (halved
/// by each further one, down to [`LEARNED_GROWTH_MIN`]), and only while
/// calls wait for tokens.
const LEARNED_GROWTH: f64 = 0.04;
const LEARNED_GROWTH_MIN: f64 = 0.005;
/// Growth per second of a budget back to the edge it learned.
const RECOVER: f64 = 1.5;
/// Growth per second of a budget started from a published quota while
/// calls wait for it and nothing has been refused.
const PRIOR_GROWTH: f64 = 0.1;
/// Successes since the first refusal needed before they are trusted as the
/// service's rate (fewer say little).
const LEARN_MIN_UNITS: f64 = 20.0;

#[derive(Debug)]
struct State {
    /// Units per second.
    rate: f64,
    /// Until the first 429 or level the rate grows exponentially.
    slow_start: bool,
    ceiling: f64,
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
    /// Units that succeeded since the run started (slow start's estimate of
    /// the service's budget divides it by the first level); units sent, and
    /// units that failed other than by a 429 (they free slow start's window:
    /// a service that answers nothing but errors must not stall the run).
    ok_units: f64,
    sent_units: f64,
    failed_units: f64,
    /// The current epoch: when it began, and the highest level its answers
    /// showed (`None`: every answer was below [`LEVEL_SHOWN`]).
    epoch_start: Instant,
    epoch_level: Option<f64>,
    /// No cut for a high level before this instant.
    hold_until: Instant,
    /// Growth of the next epoch without a level.
    unseen_step: f64,
    /// Completed units in the current one-second window: what a 429 during
    /// slow start cuts from.
    window_start: Instant,
    window_units: f64,
    /// 429s arriving before this instant belong to the episode already
    /// answered (requests that were in flight): they do not cut again.
    cut_until: Instant,
    /// Units that succeeded since the last cut, and when it was: their
    /// ratio, counting the pause the 429 asks for, is the throughput the
    /// service actually sustained.
    units_since_cut: f64,
    since: Instant,
    /// Whether any answer showed a level: without one, a refused budget
    /// learns its rate instead of probing back up.
    levels_seen: bool,
    /// The first refusal, and the units that succeeded since: their ratio
    /// is the service's refill rate once its burst is spent.
    first_refusal: Option<Instant>,
    ok_since_refusal: f64,
    /// The rate learned from refusals, and how fast it may grow now.
    learned: Option<f64>,
    learned_growth: f64,
    /// Calls waited for tokens during the current epoch: only then does a
    /// learned budget (or one started from a published quota) grow.
    starved: bool,
    /// A published quota's burst (units the service lets through at once),
    /// until the first refusal shows the real one.
    prior_burst: f64,
    /// Time this budget spent paused, and since when it is paused.
    paused_total: Duration,
    /// Seconds of the current rate one call may carry.
    call_seconds: f64,
}

/// One adaptive budget (the resource units of every call, or the writes).
#[derive(Debug)]
pub struct Budget {
    state: Mutex<State>,
}

impl Budget {
    /// `max_rate`: ceiling in units per second (`None`: no ceiling; the
    /// service's levels and 429s find the rate).
    pub fn new(max_rate: Option<f64>) -> Self {
        let ceiling = max_rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(f64::INFINITY);
        let now = Instant::now();
        let rate = INITIAL_RATE.min(ceiling);
        Budget {
            state: Mutex::new(State {
                rate,
                slow_start: true,
                ceiling,
                tokens: INITIAL_BURST.min(rate * BURST_SECONDS).max(1.0),
                last: now,
                paused_until: None,
                ok_units: 0.0,
                sent_units: 0.0,
                failed_units: 0.0,
                epoch_start: now,
                epoch_level: None,
                hold_until: now,
                unseen_step: GROW_UNSEEN,
                window_start: now,
                window_units: 0.0,
                cut_until: now,
                units_since_cut: 0.0,
                since: now,
                levels_seen: false,
                first_refusal: None,
                ok_since_refusal: 0.0,
                learned: None,
                learned_growth: LEARNED_GROWTH,
                starved: false,
                prior_burst: 0.0,
                paused_total: Duration::ZERO,
                call_seconds: CALL_SECONDS,
            }),
        }
    }

    /// A budget that starts from a published quota: `rate` units per
    /// second with `burst` available at once (Graph's writes: 3,000 per
    /// 150 s), capped by `max_rate`. No slow start: the quota is known. It
    /// grows past `rate` only while calls wait for tokens and nothing was
    /// refused (a service that allows more); a refusal teaches it the real
    /// rate, as for any budget.
    pub fn with_prior(rate: f64, burst: f64, max_rate: Option<f64>) -> Self {
        let b = Budget::new(max_rate);
        {
            let mut s = b.lock();
            s.rate = rate.min(s.ceiling).max(MIN_RATE);
            s.slow_start = false;
            s.prior_burst = burst.max(1.0);
            s.tokens = s.prior_burst;
            // A quota's edge refuses a whole call's items at once: writes
            // go a tenth of a second's worth at a time (two per call at
            // 20 a second), which costs nothing at that rate.
            s.call_seconds = PRIOR_CALL_SECONDS;
        }
        b
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a call may be sent and reserves its size: up to `max`
    /// units, no more than the current rate spends in [`CALL_SECONDS`] (at
    /// 5 requests per second a 20-item batch would overdraw the service's
    /// budget for four seconds at once) and, during slow start, no more
    /// than its window has room for. The size is decided here, when the
    /// units are taken, so a cut between packing and sending cannot strand
    /// a batch sized for the old rate. Units reserved but not used go back
    /// with [`Budget::refund`].
    pub async fn reserve(&self, max: u32) -> u32 {
        let max = f64::from(max.max(1));
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.paused_until {
                    Some(t) if t > now => Some((t - now, true)),
                    _ => {
                        let elapsed = now.duration_since(s.last).as_secs_f64();
                        s.last = now;
                        let mut call = max.min((s.rate * s.call_seconds).floor()).max(1.0);
                        if s.slow_start {
                            let allowed = INITIAL_BURST.max((1.0 + SLOW_START_WINDOW) * s.ok_units);
                            let used = s.sent_units - s.failed_units;
                            call = call.min((allowed - used).floor());
                        }
                        let cap = (s.rate * BURST_SECONDS)
                            .max(call)
                            .max(s.prior_burst)
                            .max(1.0);
                        s.tokens = (s.tokens + elapsed * s.rate).min(cap);
                        if call < 1.0 {
                            // Slow start: wait for answers, not for tokens.
                            Some((RECHECK, false))
                        } else if s.tokens >= call {
                            s.tokens -= call;
                            s.sent_units += call;
                            #[expect(
                                clippy::cast_possible_truncation,
                                clippy::cast_sign_loss,
                                reason = "a whole number in 1..=max"
                            )]
                            return call as u32;
                        } else {
                            s.starved = true;
                            Some((Duration::from_secs_f64((call - s.tokens) / s.rate), false))
                        }
                    }
                }
            };
            if let Some((w, paused)) = wait {
                // While waiting for tokens, look again soon: the rate may
                // rise meanwhile. A pause is waited out whole.
                let w = if paused { w } else { w.min(RECHECK) };
                tokio::time::sleep(w.max(Duration::from_millis(1))).await;
            }
        }
    }

    /// Takes `units` beyond what was reserved (a call that cost more than
    /// its estimate): the bucket owes them, and later calls wait.
    pub fn charge(&self, units: u32) {
        let mut s = self.lock();
        let units = f64::from(units);
        s.tokens -= units;
        s.sent_units += units;
    }

    /// Gives back reserved units that were not sent.
    pub fn refund(&self, units: u32) {
        let mut s = self.lock();
        let units = f64::from(units);
        s.tokens += units;
        s.sent_units -= units;
    }

    /// `units` succeeded; `level` is the service's
    /// `x-ms-throttle-limit-percentage` on the answer, if it sent one.
    pub fn on_success(&self, units: u32, level: Option<f64>) {
        let units = f64::from(units);
        let level = level.filter(|l| l.is_finite() && *l >= LEVEL_SHOWN);
        let mut s = self.lock();
        let now = Instant::now();
        if now.duration_since(s.window_start).as_secs_f64() >= 1.0 {
            s.window_start = now;
            s.window_units = 0.0;
        }
        s.window_units += units;
        s.units_since_cut += units;
        s.ok_units += units;
        if s.first_refusal.is_some() {
            s.ok_since_refusal += units;
        }
        if let Some(level) = level {
            s.levels_seen = true;
            s.epoch_level = Some(s.epoch_level.map_or(level, |l: f64| l.max(level)));
            if s.slow_start {
                s.end_slow_start(level, now);
            }
        }
        if s.slow_start {
            s.rate = (s.rate + SLOW_START_GAIN * units).min(s.ceiling);
        } else if now.duration_since(s.epoch_start) >= EPOCH {
            s.end_epoch(now);
        }
    }

    /// Whether calls waited for tokens in the current epoch.
    pub fn is_starved(&self) -> bool {
        self.lock().starved
    }

    /// A level seen on an answer this budget did not pay for (a read's,
    /// when the level is taken as the write quota's).
    pub fn observe_level(&self, level: Option<f64>) {
        let Some(level) = level.filter(|l| l.is_finite() && *l >= LEVEL_SHOWN) else {
            return;
        };
        let mut s = self.lock();
        s.levels_seen = true;
        s.epoch_level = Some(s.epoch_level.map_or(level, |l: f64| l.max(level)));
    }

    /// `units` were answered with an error other than a 429 (or not at
    /// all): they are no longer in flight, and say nothing of the budget.
    pub fn on_failed(&self, units: u32) {
        self.lock().failed_units += f64::from(units);
    }

    /// A unit was throttled: pause everyone for `retry_after` and cut the
    /// rate. Returns the pause in force.
    pub fn on_throttled(&self, retry_after: Option<Duration>) -> Duration {
        let mut s = self.lock();
        let now = Instant::now();
        let pause = retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_PAUSE);
        let until = now + pause;
        match s.paused_until {
            Some(t) if t >= until => {}
            Some(t) if t > now => {
                s.paused_total += until - t;
                s.paused_until = Some(until);
            }
            _ => {
                s.paused_total += pause;
                s.paused_until = Some(until);
            }
        }
        if now >= s.cut_until {
            let in_window =
                s.window_units / now.duration_since(s.window_start).as_secs_f64().max(0.1);
            // Slow start may have pushed the rate far above what got
            // through: cut from the throughput of the current window then.
            let mut base = if s.slow_start && in_window > 0.0 {
                s.rate.min(in_window)
            } else {
                s.rate
            };
            // A service that refuses for `pause` after letting N units
            // through in T sustained N / (T + pause): never aim above it.
            // (Ignored for tiny samples, which say little.) For a fixed
            // window that refuses until it ends, this is its exact rate.
            let pre = base;
            let episode = (s.units_since_cut >= LEARN_MIN_UNITS).then(|| {
                let span = now.duration_since(s.since).as_secs_f64() + pause.as_secs_f64();
                s.units_since_cut / span.max(0.001)
            });
            if let Some(e) = episode {
                base = base.min(e);
            }
            if s.levels_seen {
                s.rate = (base * DECREASE).clamp(MIN_RATE, s.ceiling);
                s.learned = Some((in_window * DECREASE).max(s.rate));
            } else {
                // No level to steer by: learn. Since the first refusal the
                // service's burst is spent, so what it let through over
                // that time is (at least) its refill rate; an episode may
                // show more. Aim just below the better of the two, never
                // above the rate that was just refused.
                let long_run = s.first_refusal.and_then(|t0| {
                    let span = now.duration_since(t0).as_secs_f64();
                    (s.ok_since_refusal >= LEARN_MIN_UNITS && span >= 1.0)
                        .then(|| s.ok_since_refusal / span)
                });
                let estimate = match (long_run, episode) {
                    (Some(a), Some(b)) => a.max(b),
                    // Too little got through to tell: the usual cut, or,
                    // refused again at once after a refusal, far above the
                    // service's rate: halve.
                    (a, b) => a.or(b).unwrap_or_else(|| {
                        let cut = if s.first_refusal.is_some() {
                            FAR_ABOVE
                        } else {
                            DECREASE
                        };
                        base * cut / LEARNED_MARGIN
                    }),
                };
                // What got through since the first refusal is a floor (an
                // episode right after a whole-second pause can show less
                // than the service allows).
                let mut rate = pre.min(estimate) * LEARNED_MARGIN;
                if s.first_refusal.is_some() {
                    // After the first refusal an episode can show less
                    // than the service allows (a whole-second pause that
                    // only repaid the overshoot): one episode at most
                    // halves the rate. (The first is an upper bound: it
                    // counts the service's burst.)
                    rate = rate.max(pre * FAR_ABOVE);
                }
                if let Some(lr) = long_run {
                    rate = rate.max(lr.min(pre) * LEARNED_MARGIN);
                }
                s.rate = rate.clamp(MIN_RATE, s.ceiling);
                if s.learned.is_some() {
                    s.learned_growth = (s.learned_growth / 2.0).max(LEARNED_GROWTH_MIN);
                }
                s.learned = Some(s.rate);
                if s.first_refusal.is_none() {
                    s.first_refusal = Some(now);
                    s.ok_since_refusal = 0.0;
                }
            }
            s.units_since_cut = 0.0;
            s.since = until;
            s.slow_start = false;
            s.prior_burst = 0.0;
            s.cut_until = until;
            // The level is stale after a refusal: judge it afresh once the
            // pause is over.
            s.hold_until = s.hold_until.max(until);
            s.epoch_start = until;
            s.epoch_level = None;
            s.starved = false;
        }
        s.tokens = 0.0;
        s.last = s.last.max(until);
        s.paused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// Time this budget has spent paused by refusals, overlapping pauses
    /// counted once.
    pub fn paused_total(&self) -> Duration {
        let s = self.lock();
        let ahead = s.paused_until.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        });
        s.paused_total.saturating_sub(ahead)
    }

    /// Current rate (units/s) and remaining pause.
    pub fn status(&self) -> (f64, Duration) {
        let s = self.lock();
        let pause = s.paused_until.map_or(Duration::ZERO, |t| {
            t.saturating_duration_since(Instant::now())
        });
        (s.rate, pause)
    }
}

impl State {
    /// The first level ends slow start. A budget that started full and
    /// shows `level` after `ok_units` holds about `ok_units / level` units,
    /// of which `1 - level` is left: spread that over
    /// [`HEADROOM_SECONDS`], and let the level find the refill rate.
    fn end_slow_start(&mut self, level: f64, now: Instant) {
        self.slow_start = false;
        let budget = self.ok_units / level;
        let left = (1.0 - level).max(0.0) * budget;
        let aim = (left / HEADROOM_SECONDS).max(MIN_RATE);
        self.rate = self.rate.min(aim).min(self.ceiling);
        self.tokens = self.tokens.min((self.rate * BURST_SECONDS).max(1.0));
        self.epoch_start = now;
        self.epoch_level = None;
    }

    /// One epoch of answers is over: adjust the rate to the highest level
    /// they showed.
    /// Growth counts whole epochs of time, not answers: a slow rate, with
    /// few answers, recovers as fast as a quick one. While no level shows,
    /// each further epoch doubles the step (up to doubling the rate), so a
    /// rate cut far below an ample budget is back within a couple of
    /// seconds; any level resets the step.
    fn end_epoch(&mut self, now: Instant) {
        let epochs = (now.duration_since(self.epoch_start).as_secs_f64() / EPOCH.as_secs_f64())
            .clamp(1.0, 5.0);
        match self.epoch_level {
            Some(level) if level >= LEVEL_HIGH => {
                self.unseen_step = GROW_UNSEEN;
                if now >= self.hold_until {
                    // A large budget shows a high level for as long as it
                    // takes to refill, long after the rate came down to
                    // its refill rate: cut, but never below what is
                    // getting through now (that is the refill rate).
                    let through = self.window_units
                        / now.duration_since(self.window_start).as_secs_f64().max(0.1);
                    let floor = (through * LEARNED_MARGIN).min(self.rate);
                    self.rate = (self.rate * LEVEL_CUT).max(floor).max(MIN_RATE);
                    self.hold_until = now + HOLD;
                    // The budget's edge is about here: an epoch without a
                    // level later is no licence to double past it.
                    self.learned = Some(self.rate.max(floor));
                }
            }
            Some(level) if level >= LEVEL_HOLD => self.unseen_step = GROW_UNSEEN,
            Some(_) => {
                self.unseen_step = GROW_UNSEEN;
                self.rate *= (1.0 + GROW_LOW).powf(epochs);
            }
            None if let Some(edge) = self.learned => {
                // The edge was learned (a refusal, or a level at the top):
                // no level is no proof of room. Back to the edge quickly,
                // past it only creeping, and only while calls wait for
                // tokens (an idle budget proves nothing).
                if self.starved {
                    let secs = epochs * EPOCH.as_secs_f64();
                    self.rate = if self.rate < edge {
                        (self.rate * RECOVER.powf(secs)).min(edge)
                    } else {
                        self.rate * (1.0 + self.learned_growth * secs)
                    };
                }
            }
            None if self.prior_burst > 0.0 => {
                // A published quota, never refused: past it only while
                // calls wait, and gently (the quota is likely real).
                if self.starved {
                    let secs = epochs * EPOCH.as_secs_f64();
                    self.rate *= 1.0 + PRIOR_GROWTH * secs;
                }
            }
            None => {
                self.rate *= (1.0 + self.unseen_step).powf(epochs);
                self.unseen_step = (self.unseen_step * UNSEEN_STEP_GROWTH).min(1.0);
            }
        }
        self.starved = false;
        self.rate = self.rate.min(self.ceiling);
        self.epoch_start = now;
        self.epoch_level = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::throttle::{Admit, Throttle};

    #[tokio::test(start_paused = true)]
    async fn a_ceiling_is_never_exceeded_beyond_its_small_burst() {
        let l = Budget::new(Some(100.0));
        // Slow start reaches the ceiling after a little traffic; a level
        // ends it (nothing then waits for answers, only for tokens).
        for _ in 0..9_999 {
            l.on_success(1, None);
        }
        l.on_success(1, Some(0.8));
        for _ in 0..100 {
            tokio::time::advance(EPOCH).await;
            l.on_success(1, None);
        }
        assert!((l.status().0 - 100.0).abs() < 1e-9, "{}", l.status().0);
        tokio::time::advance(Duration::from_secs(1)).await;
        let start = Instant::now();
        for _ in 0..525 {
            l.reserve(1).await;
        }
        // 25 units of burst, then 500 at 100/s: at least 5 s.
        let took = Instant::now() - start;
        assert!(took >= Duration::from_millis(4990), "{took:?}");
        assert!(took <= Duration::from_millis(5300), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_run_starts_with_a_small_burst() {
        let l = Budget::new(None);
        let start = Instant::now();
        for _ in 0..40 {
            l.reserve(1).await;
        }
        assert_eq!(Instant::now(), start, "the first 40 units leave at once");
        // The next waits for answers: with 40 units sent and none known to
        // have succeeded, slow start has no evidence that the budget holds
        // more. 33 successes show it held at least 41 (33 × 1.25).
        let l = std::sync::Arc::new(l);
        let next = tokio::spawn({
            let l = l.clone();
            async move {
                l.reserve(1).await;
                Instant::now()
            }
        });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!next.is_finished());
        for _ in 0..32 {
            l.on_success(1, None);
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!next.is_finished(), "32 × 1.25 = 40: still no room");
        l.on_success(1, None);
        let sent = next.await.unwrap();
        assert!(sent - start >= Duration::from_secs(5), "{:?}", sent - start);
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_cuts_the_rate() {
        let l = std::sync::Arc::new(Budget::new(Some(100.0)));
        for _ in 0..10 {
            l.on_success(1, None);
        }
        let pause = l.on_throttled(Some(Duration::from_secs(3)));
        assert_eq!(pause, Duration::from_secs(3));
        // 429s of requests already in flight belong to the same episode.
        l.on_throttled(Some(Duration::from_secs(1)));
        let (rate, _) = l.status();
        assert!((rate - 70.0).abs() < 1e-9, "{rate}");
        let start = Instant::now();
        let waiters: Vec<_> = (0..10)
            .map(|_| {
                let l = l.clone();
                tokio::spawn(async move {
                    l.reserve(1).await;
                    Instant::now()
                })
            })
            .collect();
        for w in waiters {
            assert!(w.await.unwrap() - start >= Duration::from_secs(3));
        }
        // A shorter pause never cuts a longer one.
        tokio::time::advance(Duration::from_secs(5)).await;
        l.on_throttled(Some(Duration::from_secs(30)));
        l.on_throttled(Some(Duration::from_secs(1)));
        assert!(l.status().1 >= Duration::from_secs(29));
        // The second cut starts from the (small) throughput since the first.
        assert!(
            l.status().0 <= 49.0 + 1e-6,
            "two episodes, two cuts: {}",
            l.status().0
        );
    }

    #[tokio::test(start_paused = true)]
    async fn with_levels_success_probes_back_up_to_the_ceiling() {
        let l = Budget::new(Some(100.0));
        // A service that shows levels: a low one after the cut means room.
        for _ in 0..1000 {
            l.on_success(1, None);
        }
        l.on_success(1, Some(0.8));
        l.on_throttled(Some(Duration::from_millis(10)));
        assert!(l.status().0 < 100.0);
        for _ in 0..500 {
            tokio::time::advance(Duration::from_millis(20)).await;
            l.on_success(1, Some(0.8));
        }
        assert!((l.status().0 - 100.0).abs() < 1e-9, "{}", l.status().0);
    }

    #[tokio::test(start_paused = true)]
    async fn without_levels_a_refused_budget_creeps_only_while_calls_wait() {
        let l = Budget::new(Some(1000.0));
        for _ in 0..100 {
            l.on_success(1, None);
        }
        l.on_throttled(Some(Duration::from_millis(10)));
        let cut = l.status().0;
        // Answers alone, with nothing waiting for tokens: no growth, since
        // an idle budget proves nothing about the service.
        for _ in 0..100 {
            tokio::time::advance(Duration::from_millis(20)).await;
            l.on_success(1, None);
        }
        assert!(
            (l.status().0 - cut).abs() < 1e-9,
            "{} vs {cut}",
            l.status().0
        );
        // Calls waiting: a few per cent a second, not the doubling of an
        // unrefused budget.
        for _ in 0..10 {
            tokio::time::advance(EPOCH).await;
            let l2 = &l;
            let _ = tokio::time::timeout(Duration::from_millis(1), async {
                loop {
                    l2.reserve(1).await;
                }
            })
            .await;
            l.on_success(1, None);
        }
        let grown = l.status().0 / cut;
        assert!(
            grown > 1.0 && grown < 1.2,
            "two seconds of waiting: {grown}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_grows_fast_then_a_429_cuts_from_real_throughput() {
        let l = Budget::new(None);
        assert!((l.status().0 - INITIAL_RATE).abs() < 1e-9);
        // 100 units/s get through for two seconds while slow start runs ahead.
        for _ in 0..20 {
            l.reserve(10).await;
            l.on_success(10, None);
            tokio::time::advance(Duration::from_millis(100)).await;
        }
        assert!(
            l.status().0 > 1000.0,
            "slow start grew the rate: {}",
            l.status().0
        );
        l.on_throttled(Some(Duration::from_secs(1)));
        let (rate, pause) = l.status();
        // 200 units in 2 s, then a 1 s pause: about 67/s sustained.
        assert!(
            rate > 30.0 && rate <= 70.0,
            "cut from what was sustained: {rate}"
        );
        assert_eq!(pause, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_level_ends_slow_start_and_spreads_what_is_left() {
        let l = Budget::new(None);
        for _ in 0..39 {
            l.on_success(1, None);
        }
        assert!(l.status().0 > INITIAL_RATE);
        // 40 units showed 80 %: a budget of about 50, 10 of it left, spent
        // over two seconds.
        l.on_success(1, Some(0.8));
        let (rate, pause) = l.status();
        assert!((rate - 5.0).abs() < 1e-9, "{rate}");
        assert_eq!(pause, Duration::ZERO, "a level is a warning, not a pause");
    }

    #[tokio::test(start_paused = true)]
    async fn a_high_level_cuts_once_per_hold_and_a_low_level_grows() {
        let l = Budget::new(Some(1000.0));
        for _ in 0..799 {
            l.on_success(1, None);
        }
        l.on_success(1, Some(0.8));
        let start_rate = l.status().0;
        assert!((start_rate - 100.0).abs() < 1e-6, "{start_rate}");
        // Two seconds of answers at the edge: a cut at most once a second,
        // and none while more gets through than the rate (the first
        // second's window holds the 800 units above).
        for _ in 0..40 {
            tokio::time::advance(Duration::from_millis(50)).await;
            l.on_success(1, Some(1.0));
        }
        let cut = l.status().0 / start_rate;
        assert!((cut - LEVEL_CUT).abs() < 1e-9, "one cut: {cut}");
        // Never below about what gets through: 20 a second here (measured
        // over the current second, so a little above early in it).
        for _ in 0..200 {
            tokio::time::advance(Duration::from_millis(50)).await;
            l.on_success(1, Some(1.0));
        }
        let floor = l.status().0;
        assert!(
            (18.0..=25.0).contains(&floor),
            "cut down to what gets through, no further: {floor}"
        );
        let cut = floor / start_rate;
        // Just below the edge the rate holds.
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(50)).await;
            l.on_success(1, Some(0.9));
        }
        assert!((l.status().0 / start_rate - cut).abs() < 1e-9);
        // A level below the band grows it a little every epoch (time, not
        // answers, counts: one answer a second still grows it 5 epochs).
        tokio::time::advance(Duration::from_secs(1)).await;
        l.on_success(1, Some(0.8));
        let grown = l.status().0 / start_rate / cut;
        assert!((grown - 1.02_f64.powi(5)).abs() < 1e-9, "{grown}");
        // No level at all after the level topped out is no proof of room:
        // with no call waiting for tokens, nothing grows.
        let before = l.status().0;
        for _ in 0..20 {
            tokio::time::advance(Duration::from_millis(50)).await;
            l.on_success(1, None);
        }
        assert!((l.status().0 - before).abs() < 1e-9, "{}", l.status().0);
    }

    /// What a simulated run against the emulator's token bucket saw.
    #[derive(Debug)]
    struct Sim {
        seconds: f64,
        refused: u64,
        sent: u64,
    }

    /// A service for [`simulate`]: the emulator's token bucket (refused
    /// units still debit, as in Graph), answering after `latency`, with the
    /// level header rounded to one decimal like the emulator's (or none).
    struct Service {
        rate: f64,
        burst: f64,
        latency: Duration,
        levels: bool,
    }

    /// Sends `units` through the limiter in calls sized by it, at most 50
    /// in flight, and retries refused units.
    async fn simulate(units: u64, svc: Service) -> Sim {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
        let l = Arc::new(Budget::new(None));
        let bucket = Arc::new(Throttle::new(svc.rate, svc.burst));
        let slots = Arc::new(tokio::sync::Semaphore::new(50));
        let start = Instant::now();
        let (left, done) = (Arc::new(AtomicU64::new(units)), Arc::new(AtomicU64::new(0)));
        let (refused, sent) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
        while done.load(SeqCst) < units {
            if left.load(SeqCst) == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                continue;
            }
            let slot = slots.clone().acquire_owned().await.unwrap();
            let reserved = u64::from(l.reserve(20).await);
            let size = reserved.min(left.load(SeqCst));
            l.refund(u32::try_from(reserved - size).unwrap());
            if size == 0 {
                continue;
            }
            left.fetch_sub(size, SeqCst);
            let now = (Instant::now() - start).as_secs_f64();
            let answers: Vec<Admit> = (0..size).map(|_| bucket.admit_at("app", now)).collect();
            sent.fetch_add(size, SeqCst);
            let (l, left, done, refused) = (l.clone(), left.clone(), done.clone(), refused.clone());
            let (latency, levels) = (svc.latency, svc.levels);
            tokio::spawn(async move {
                let _slot = slot;
                tokio::time::sleep(latency).await;
                for a in answers {
                    match a {
                        Admit::Yes { used } => {
                            done.fetch_add(1, SeqCst);
                            let shown =
                                (levels && used >= 0.8).then(|| (used * 10.0).round() / 10.0);
                            l.on_success(1, shown);
                        }
                        Admit::No { retry_after } => {
                            refused.fetch_add(1, SeqCst);
                            left.fetch_add(1, SeqCst);
                            l.on_throttled(Some(Duration::from_secs(retry_after)));
                        }
                    }
                }
            });
            tokio::task::yield_now().await;
        }
        Sim {
            seconds: (Instant::now() - start).as_secs_f64(),
            refused: refused.load(SeqCst),
            sent: sent.load(SeqCst),
        }
    }

    fn service(rate: f64, burst: f64, latency_ms: u64, levels: bool) -> Service {
        Service {
            rate,
            burst,
            latency: Duration::from_millis(latency_ms),
            levels,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_run_stays_near_the_floor_with_few_429s() {
        // 4,000 operations at 100/s with a burst of 1,000: floor 30 s.
        let s = simulate(4000, service(100.0, 1000.0, 1, true)).await;
        assert!(s.refused * 200 <= s.sent, "at most 0.5 % refused: {s:?}");
        assert!(s.seconds <= 30.0 * 1.05, "{s:?}");
        // 400 operations at 5/s with a burst of 50: floor 70 s.
        let s = simulate(400, service(5.0, 50.0, 1, true)).await;
        assert!(s.refused * 50 <= s.sent, "at most 2 % refused: {s:?}");
        assert!(s.seconds <= 70.0 * 1.03, "{s:?}");
        // A budget smaller than the first burst: the cut that follows the
        // first 429s must not leave the run crawling. 900 at 150/s with a
        // burst of 30: floor 5.8 s.
        // (Each 429 there costs a whole-second Retry-After, five times the
        // budget's refill time: the worst shape for a whole-second pause.)
        let s = simulate(900, service(150.0, 30.0, 1, true)).await;
        assert!(s.seconds <= 5.8 * 5.0, "{s:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_ends_before_a_refusal_whatever_the_round_trip() {
        // The level warns at 80 %; slow start never has more than a quarter
        // of what succeeded in flight, so nothing is refused at its end.
        for ms in [1, 50, 200] {
            for (units, rate, burst) in [(1000, 100.0, 1000.0), (50, 5.0, 50.0)] {
                let s = simulate(units, service(rate, burst, ms, true)).await;
                assert_eq!(s.refused, 0, "{ms} ms, burst {burst}: {s:?}");
            }
        }
    }

    #[tokio::test(start_paused = true)]
    async fn without_levels_429s_alone_pace_the_run() {
        // A limit that sends no level: slow start ends on the first 429;
        // from then on the budget learns the rate from what got through
        // and settles below it instead of probing back into it.
        for (units, rate, burst, floor) in [
            // 100/s with a burst of 1,000: floor 30 s.
            (4000, 100.0, 1000.0, 30.0),
            // 300/s with a burst of 600, long enough to settle: floor 68 s.
            (21_000, 300.0, 600.0, 68.0),
        ] {
            for ms in [1, 30, 100] {
                let s = simulate(units, service(rate, burst, ms, false)).await;
                eprintln!("{units} at {rate}/s, burst {burst}, {ms} ms: {s:?}");
                // The first refusal costs what slow start had in flight;
                // a long run spreads it thin.
                let (share, slack) = if units > 10_000 {
                    (100, 1.05)
                } else {
                    (12, 1.2)
                };
                assert!(s.refused * share <= s.sent, "refused: {s:?}");
                assert!(s.seconds <= floor * slack, "{s:?}");
            }
        }
    }
}
