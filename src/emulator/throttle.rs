//! Throttling: per-app limits, each a token bucket (refilled at a rate up
//! to a burst) or a fixed window (at most so many units per window of N
//! seconds, windows aligned to the emulator's start). The emulator holds
//! one for resource units (`--rate`) and, with `--write-rate`, one for
//! writes; [`super::meter`] decides what a request costs each.
//!
//! Usage accrues while throttled, as Graph documents: a refused request
//! still debits its cost, so a bucket goes negative (down to `-burst`) and
//! a client that ignores `Retry-After` stays throttled; a window's count
//! keeps growing, so it stays refused until the window ends. A request
//! costing more than a whole bucket (or window) fits when it is untouched,
//! so that it is never refused forever. Time is passed in as seconds since
//! the emulator started, so tests drive the clock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// How one limit counts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Limit {
    /// Refilled at `rate` units per second, holding at most `burst`.
    Bucket { rate: f64, burst: f64 },
    /// At most `units` per window of `seconds`, the first starting at 0.
    Window { units: f64, seconds: f64 },
}

/// One app's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    tokens: f64,
    last: f64,
}

/// One app's count in its latest window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Window {
    index: u64,
    used: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Usage {
    Bucket(Bucket),
    Window(Window),
}

/// What the bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admit {
    /// Go ahead; `used` is the share of the bucket in use afterwards (0–1).
    Yes { used: f64 },
    /// Refused; retry after this many whole seconds (at least 1).
    No { retry_after: u64 },
}

/// Whole seconds, at least 1, at most a day.
fn whole_seconds(wait: f64) -> u64 {
    let wait = wait.ceil().clamp(1.0, 86_400.0);
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "clamped to 1..=86400"
    )]
    let secs = wait as u64;
    secs
}

impl Bucket {
    fn full(burst: f64, now: f64) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    fn refill(&mut self, now: f64, rate: f64, burst: f64) {
        let elapsed = (now - self.last).max(0.0);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * rate).min(burst);
    }

    /// Take `cost` at time `now` (seconds) from a bucket refilled at `rate`
    /// per second up to `burst`.
    pub(crate) fn take(&mut self, now: f64, rate: f64, burst: f64, cost: f64) -> Admit {
        self.refill(now, rate, burst);
        // A cost beyond the whole bucket needs only a full bucket.
        let need = cost.min(burst);
        let fits = self.tokens >= need;
        self.tokens = (self.tokens - cost).max(-burst);
        if fits {
            Admit::Yes {
                used: (1.0 - self.tokens / burst).clamp(0.0, 1.0),
            }
        } else {
            // The refused request would fit once the bucket holds `need`
            // again.
            Admit::No {
                retry_after: whole_seconds((need - self.tokens) / rate),
            }
        }
    }

    fn used(&mut self, now: f64, rate: f64, burst: f64) -> f64 {
        self.refill(now, rate, burst);
        (1.0 - self.tokens / burst).clamp(0.0, 1.0)
    }
}

impl Window {
    #[expect(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "non-negative; saturates far beyond any run"
    )]
    fn index_at(now: f64, seconds: f64) -> u64 {
        (now.max(0.0) / seconds).floor() as u64
    }

    /// Move to the window holding `now` (never back to an earlier one).
    fn roll(&mut self, now: f64, seconds: f64) {
        let index = Self::index_at(now, seconds);
        if index > self.index {
            *self = Window { index, used: 0.0 };
        }
    }

    fn take(&mut self, now: f64, units: f64, seconds: f64, cost: f64) -> Admit {
        self.roll(now, seconds);
        let fits = units - self.used >= cost.min(units);
        // Refused units count too (bounded, so the level stays finite).
        self.used = (self.used + cost).min(2.0 * units);
        if fits {
            Admit::Yes {
                used: (self.used / units).clamp(0.0, 1.0),
            }
        } else {
            #[expect(
                clippy::cast_precision_loss,
                reason = "window numbers stay far below 2^52"
            )]
            let end = (self.index + 1) as f64 * seconds;
            Admit::No {
                retry_after: whole_seconds(end - now),
            }
        }
    }

    fn used(&mut self, now: f64, units: f64, seconds: f64) -> f64 {
        self.roll(now, seconds);
        (self.used / units).clamp(0.0, 1.0)
    }
}

impl Usage {
    fn fresh(limit: Limit, now: f64) -> Self {
        match limit {
            Limit::Bucket { burst, .. } => Usage::Bucket(Bucket::full(burst, now)),
            Limit::Window { seconds, .. } => Usage::Window(Window {
                index: Window::index_at(now, seconds),
                used: 0.0,
            }),
        }
    }

    fn take(&mut self, limit: Limit, now: f64, cost: f64) -> Admit {
        match (self, limit) {
            (Usage::Bucket(b), Limit::Bucket { rate, burst }) => b.take(now, rate, burst, cost),
            (Usage::Window(w), Limit::Window { units, seconds }) => {
                w.take(now, units, seconds, cost)
            }
            // A throttle never changes its limit; start over if it did.
            (usage, limit) => {
                *usage = Usage::fresh(limit, now);
                usage.take(limit, now, cost)
            }
        }
    }

    fn used(&mut self, limit: Limit, now: f64) -> f64 {
        match (self, limit) {
            (Usage::Bucket(b), Limit::Bucket { rate, burst }) => b.used(now, rate, burst),
            (Usage::Window(w), Limit::Window { units, seconds }) => w.used(now, units, seconds),
            _ => 0.0,
        }
    }
}

/// Every app's usage of one limit, created unused on first use.
#[derive(Debug)]
pub(crate) struct Throttle {
    limit: Limit,
    usage: Mutex<HashMap<Box<str>, Usage>>,
}

impl Throttle {
    /// A token bucket of `burst` refilled at `rate` per second (tests,
    /// including the client's rate-budget simulation).
    #[cfg(test)]
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Self::with_limit(Limit::Bucket { rate, burst })
    }

    pub(crate) fn with_limit(limit: Limit) -> Self {
        Throttle {
            limit,
            usage: Mutex::new(HashMap::new()),
        }
    }

    /// Charge one unit to `app` at `now` (seconds since start).
    #[cfg(test)]
    pub(crate) fn admit_at(&self, app: &str, now: f64) -> Admit {
        self.charge_at(app, now, 1.0)
    }

    /// Charge `cost` units to `app` at `now` (seconds since start).
    pub(crate) fn charge_at(&self, app: &str, now: f64, cost: f64) -> Admit {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(u) = usage.get_mut(app) {
            return u.take(self.limit, now, cost);
        }
        let mut u = Usage::fresh(self.limit, now);
        let admit = u.take(self.limit, now, cost);
        usage.insert(app.into(), u);
        admit
    }

    /// The share of `app`'s limit in use at `now` (0–1), charging nothing.
    pub(crate) fn used_at(&self, app: &str, now: f64) -> f64 {
        let mut usage = self.usage.lock().unwrap_or_else(PoisonError::into_inner);
        usage.get_mut(app).map_or(0.0, |u| u.used(self.limit, now))
    }

    /// Forget all usage (`POST /_reset`).
    pub(crate) fn reset(&self) {
        self.usage
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Admit, Limit, Throttle};

    fn refused(a: Admit) -> Option<u64> {
        match a {
            Admit::Yes { .. } => None,
            Admit::No { retry_after } => Some(retry_after),
        }
    }

    #[test]
    fn burst_then_refill() {
        let t = Throttle::new(2.0, 4.0);
        for _ in 0..4 {
            assert_eq!(refused(t.admit_at("app", 0.0)), None);
        }
        assert_eq!(refused(t.admit_at("app", 0.0)), Some(1));
        // Another app has its own bucket.
        assert_eq!(refused(t.admit_at("other", 0.0)), None);
        // -1 after the refused request; at 2/s it holds 1 again after 1 s.
        assert_eq!(refused(t.admit_at("app", 1.0)), None);
        assert_eq!(refused(t.admit_at("app", 1.0)), Some(1));
    }

    #[test]
    fn usage_accrues_while_throttled() {
        let t = Throttle::new(1.0, 2.0);
        assert_eq!(refused(t.admit_at("a", 0.0)), None);
        assert_eq!(refused(t.admit_at("a", 0.0)), None);
        // Each refused request digs deeper, down to -burst.
        assert_eq!(refused(t.admit_at("a", 0.0)), Some(2));
        assert_eq!(refused(t.admit_at("a", 0.0)), Some(3));
        assert_eq!(refused(t.admit_at("a", 0.0)), Some(3));
        // A client that waited the last Retry-After gets through.
        assert_eq!(refused(t.admit_at("a", 3.0)), None);
    }

    #[test]
    fn reports_usage_and_resets() {
        let t = Throttle::new(10.0, 10.0);
        match t.admit_at("a", 0.0) {
            Admit::Yes { used } => assert!((used - 0.1).abs() < 1e-9),
            Admit::No { .. } => panic!("refused"),
        }
        for _ in 0..9 {
            t.admit_at("a", 0.0);
        }
        assert!(refused(t.admit_at("a", 0.0)).is_some());
        t.reset();
        assert!(refused(t.admit_at("a", 0.0)).is_none());
    }

    #[test]
    fn time_going_backwards_does_not_refill() {
        let t = Throttle::new(1.0, 1.0);
        assert!(refused(t.admit_at("a", 5.0)).is_none());
        assert!(refused(t.admit_at("a", 1.0)).is_some());
    }

    fn window(units: f64, seconds: f64) -> Throttle {
        Throttle::with_limit(Limit::Window { units, seconds })
    }

    #[test]
    fn fixed_window_counts_until_it_ends() {
        // 3 units per 10 s window, windows [0, 10), [10, 20), ...
        let t = window(3.0, 10.0);
        assert_eq!(refused(t.admit_at("a", 0.0)), None);
        assert_eq!(refused(t.admit_at("a", 4.0)), None);
        assert_eq!(refused(t.admit_at("a", 9.0)), None);
        // Full: refused for the whole seconds left, rounded up.
        assert_eq!(refused(t.admit_at("a", 9.0)), Some(1));
        assert_eq!(refused(t.admit_at("a", 9.5)), Some(1));
        assert_eq!(refused(t.admit_at("b", 9.5)), None);
        // The next window starts empty whatever was refused before.
        for now in [10.0, 10.0, 12.5] {
            assert_eq!(refused(t.admit_at("a", now)), None);
        }
        assert_eq!(refused(t.admit_at("a", 12.5)), Some(8));
        assert_eq!(refused(t.admit_at("a", 19.2)), Some(1));
        // A quiet stretch skips windows.
        assert_eq!(refused(t.admit_at("a", 45.0)), None);
    }

    #[test]
    fn fixed_window_charges_costs_and_reports_usage() {
        let t = window(4.0, 5.0);
        match t.charge_at("a", 1.0, 3.0) {
            Admit::Yes { used } => assert!((used - 0.75).abs() < 1e-9),
            Admit::No { .. } => panic!("refused"),
        }
        assert!((t.used_at("a", 2.0) - 0.75).abs() < 1e-9);
        // 2 more does not fit in the 1 left; it still counts, so 1 more
        // is refused too until the window ends at 5 s.
        assert_eq!(refused(t.charge_at("a", 2.0, 2.0)), Some(3));
        assert_eq!(refused(t.charge_at("a", 2.0, 1.0)), Some(3));
        assert!((t.used_at("a", 4.9) - 1.0).abs() < 1e-9);
        assert!(t.used_at("a", 5.0).abs() < 1e-9);
        assert!(t.used_at("nobody", 5.0).abs() < 1e-9);
        // A cost beyond the whole window fits an untouched one.
        assert_eq!(refused(t.charge_at("a", 5.0, 9.0)), None);
        assert_eq!(refused(t.charge_at("a", 5.0, 1.0)), Some(5));
    }

    #[test]
    fn costs_beyond_the_bucket_fit_a_full_one() {
        let t = Throttle::new(1.0, 2.0);
        assert_eq!(refused(t.charge_at("a", 0.0, 3.0)), None);
        // -1 now, and -2 after the refused one: the full 2 again in 4 s.
        assert_eq!(refused(t.charge_at("a", 0.0, 3.0)), Some(4));
        let t = Throttle::new(1.0, 4.0);
        assert_eq!(refused(t.charge_at("a", 0.0, 2.0)), None);
        assert!((t.used_at("a", 0.0) - 0.5).abs() < 1e-9);
        assert!((t.used_at("a", 1.0) - 0.25).abs() < 1e-9);
    }
}
