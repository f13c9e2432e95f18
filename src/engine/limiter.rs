//! One adaptive rate budget shared by every worker.
//!
//! Graph throttles per app and tenant, so remedy keeps one limiter for the
//! whole run: every request (or `$batch` item) draws one unit from it. It
//! is a token bucket whose rate adapts AIMD-style: a 429 pauses everyone
//! for the server's `Retry-After` (no thundering herd) and cuts the rate;
//! each success raises it a little, probing back up to the ceiling
//! (`--max-rate`). Like TCP, a run starts slowly and grows the rate
//! exponentially while calls succeed (slow start); the first 429 ends that
//! phase, and the rate is cut from the throughput that actually got
//! through, not from wherever slow start had pushed it.
//! (governor's quota is fixed when built, hence this small limiter.)

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Longest pause remedy accepts from one `Retry-After`.
pub const MAX_PAUSE: Duration = Duration::from_secs(120);
/// The rate never drops below this (units per second).
pub const MIN_RATE: f64 = 0.5;
/// Cut applied to the rate on a 429.
const DECREASE: f64 = 0.7;
/// Rate a run starts at (20 `$batch` calls of 20 per second), then
/// doubled roughly every 25 ms of successful traffic (slow start) until the
/// first 429 or the ceiling.
const INITIAL_RATE: f64 = 400.0;
/// Slow start: rate gained per successful unit.
const SLOW_START_GAIN: f64 = 30.0;
/// Rate gained per successful unit, as a share of the rate: about +3 %
/// per second of traffic at the current rate.
const INCREASE: f64 = 0.03;
/// Longest sleep while waiting for tokens before looking at the rate again.
const RECHECK: Duration = Duration::from_millis(10);
/// Seconds of traffic the bucket may hold (smooths, never bursts far).
const BURST_SECONDS: f64 = 0.25;

#[derive(Debug)]
struct State {
    /// Units per second.
    rate: f64,
    /// Until the first 429 the rate grows exponentially (slow start); after
    /// it, additively.
    slow_start: bool,
    ceiling: f64,
    tokens: f64,
    last: Instant,
    paused_until: Option<Instant>,
    /// Completed units in the current one-second window, and the rate
    /// measured over the last full window: what a 429 cuts from.
    window_start: Instant,
    window_units: f64,
    measured: f64,
    /// 429s arriving before this instant belong to the episode already
    /// answered (requests that were in flight): they do not cut again.
    cut_until: Instant,
    /// Units that succeeded since the last cut, and when it was: their
    /// ratio, counting the pause the 429 asks for, is the throughput the
    /// service actually sustained.
    units_since_cut: f64,
    since: Instant,
}

/// The shared limiter.
#[derive(Debug)]
pub struct Limiter {
    state: Mutex<State>,
}

impl Limiter {
    /// `max_rate`: ceiling in units per second (`None`: no ceiling; the
    /// service's 429s find the rate).
    pub fn new(max_rate: Option<f64>) -> Self {
        let ceiling = max_rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .unwrap_or(f64::INFINITY);
        let now = Instant::now();
        Limiter {
            state: Mutex::new(State {
                rate: INITIAL_RATE.min(ceiling),
                slow_start: true,
                ceiling,
                tokens: (INITIAL_RATE.min(ceiling) * BURST_SECONDS).max(1.0),
                last: now,
                paused_until: None,
                window_start: now,
                window_units: 0.0,
                measured: 0.0,
                cut_until: now,
                units_since_cut: 0.0,
                since: now,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until `units` may be sent, then takes them.
    pub async fn acquire(&self, units: u32) {
        let units = f64::from(units.max(1));
        loop {
            let wait = {
                let mut s = self.lock();
                let now = Instant::now();
                match s.paused_until {
                    Some(t) if t > now => Some((t - now, true)),
                    _ => {
                        let elapsed = now.duration_since(s.last).as_secs_f64();
                        s.last = now;
                        let cap = (s.rate * BURST_SECONDS).max(units);
                        s.tokens = (s.tokens + elapsed * s.rate).min(cap);
                        if s.tokens >= units {
                            s.tokens -= units;
                            return;
                        }
                        Some((Duration::from_secs_f64((units - s.tokens) / s.rate), false))
                    }
                }
            };
            if let Some((w, paused)) = wait {
                // While waiting for tokens, look again soon: slow start may
                // raise the rate meanwhile. A pause is waited out whole.
                let w = if paused { w } else { w.min(RECHECK) };
                tokio::time::sleep(w.max(Duration::from_millis(1))).await;
            }
        }
    }

    /// `units` succeeded: measure, and probe upward.
    pub fn on_success(&self, units: u32) {
        let units = f64::from(units);
        let mut s = self.lock();
        let now = Instant::now();
        let span = now.duration_since(s.window_start).as_secs_f64();
        if span >= 1.0 {
            s.measured = s.window_units / span;
            s.window_start = now;
            s.window_units = 0.0;
        }
        s.window_units += units;
        s.units_since_cut += units;
        let gain = if s.slow_start {
            SLOW_START_GAIN
        } else {
            INCREASE
        };
        s.rate = (s.rate + gain * units).min(s.ceiling);
    }

    /// The service throttled: pause everyone for `retry_after` and cut the
    /// rate. Returns the pause in force.
    pub fn on_throttled(&self, retry_after: Option<Duration>) -> Duration {
        let mut s = self.lock();
        let now = Instant::now();
        let pause = retry_after.unwrap_or(Duration::from_secs(1)).min(MAX_PAUSE);
        let until = now + pause;
        if s.paused_until.is_none_or(|t| t < until) {
            s.paused_until = Some(until);
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
            // (Ignored for tiny samples, which say little.)
            if s.units_since_cut >= 20.0 {
                let span = now.duration_since(s.since).as_secs_f64() + pause.as_secs_f64();
                base = base.min(s.units_since_cut / span.max(0.001));
            }
            s.units_since_cut = 0.0;
            s.since = until;
            s.rate = (base * DECREASE).clamp(MIN_RATE, s.ceiling);
            s.slow_start = false;
            s.cut_until = until;
        }
        s.tokens = 0.0;
        s.last = s.last.max(until);
        s.paused_until
            .map_or(Duration::ZERO, |t| t.saturating_duration_since(now))
    }

    /// How many units one call should carry: about a second's worth at the
    /// current rate, at most `max`. At 5 requests per second a 20-item batch
    /// would overdraw the service's budget for four seconds at once.
    pub fn units_per_call(&self, max: usize) -> usize {
        let rate = self.lock().rate;
        if rate >= max as f64 {
            max
        } else {
            (rate.floor() as usize).clamp(1, max)
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_ceiling_is_never_exceeded_beyond_its_small_burst() {
        let l = Limiter::new(Some(100.0));
        // Slow start reaches the ceiling after a little traffic.
        for _ in 0..10 {
            l.on_success(1);
        }
        let start = Instant::now();
        for _ in 0..525 {
            l.acquire(1).await;
        }
        // 25 units of burst, then 500 at 100/s: at least 5 s.
        let took = Instant::now() - start;
        assert!(took >= Duration::from_millis(4990), "{took:?}");
        assert!(took <= Duration::from_millis(5300), "{took:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_pauses_everyone_and_cuts_the_rate() {
        let l = std::sync::Arc::new(Limiter::new(Some(100.0)));
        for _ in 0..10 {
            l.on_success(1);
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
                    l.acquire(1).await;
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
    async fn success_probes_back_up_to_the_ceiling() {
        let l = Limiter::new(Some(100.0));
        l.on_throttled(Some(Duration::from_millis(10)));
        for _ in 0..10_000 {
            l.on_success(1);
        }
        assert!((l.status().0 - 100.0).abs() < 1e-9);
    }

    #[tokio::test(start_paused = true)]
    async fn slow_start_grows_fast_then_a_429_cuts_from_real_throughput() {
        let l = Limiter::new(None);
        assert!((l.status().0 - INITIAL_RATE).abs() < 1e-9);
        // 100 units/s get through for two seconds while slow start runs ahead.
        for _ in 0..20 {
            l.acquire(10).await;
            l.on_success(10);
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
}
