//! Throttling: one token bucket per app (the token's client id), costing
//! one unit per Graph request or `$batch` item.
//!
//! Usage accrues while throttled, as Graph documents: a refused request
//! still debits its cost, so the bucket goes negative (down to `-burst`)
//! and a client that ignores `Retry-After` stays throttled. Time is passed
//! in as seconds since the emulator started, so tests drive the clock.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

/// One app's bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bucket {
    tokens: f64,
    last: f64,
}

/// What the bucket said about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Admit {
    /// Go ahead; `used` is the share of the bucket in use afterwards (0–1).
    Yes { used: f64 },
    /// Refused; retry after this many whole seconds (at least 1).
    No { retry_after: u64 },
}

impl Bucket {
    fn full(burst: f64, now: f64) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    /// Take `cost` at time `now` (seconds) from a bucket refilled at `rate`
    /// per second up to `burst`.
    pub(crate) fn take(&mut self, now: f64, rate: f64, burst: f64, cost: f64) -> Admit {
        let elapsed = (now - self.last).max(0.0);
        self.last = self.last.max(now);
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        let fits = self.tokens >= cost;
        self.tokens = (self.tokens - cost).max(-burst);
        if fits {
            Admit::Yes {
                used: (1.0 - self.tokens / burst).clamp(0.0, 1.0),
            }
        } else {
            // The refused request would fit once the bucket holds `cost`
            // again.
            let wait = ((cost - self.tokens) / rate).ceil().max(1.0);
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "positive, bounded by (1 + burst) / rate"
            )]
            let retry_after = wait.min(86_400.0) as u64;
            Admit::No { retry_after }
        }
    }
}

/// Every app's bucket, created full on first use.
#[derive(Debug)]
pub(crate) struct Throttle {
    rate: f64,
    burst: f64,
    start: Instant,
    buckets: Mutex<HashMap<Box<str>, Bucket>>,
}

impl Throttle {
    pub(crate) fn new(rate: f64, burst: f64) -> Self {
        Throttle {
            rate,
            burst,
            start: Instant::now(),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Charge one unit to `app` now.
    pub(crate) fn admit(&self, app: &str) -> Admit {
        self.admit_at(app, self.start.elapsed().as_secs_f64())
    }

    pub(crate) fn admit_at(&self, app: &str, now: f64) -> Admit {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(bucket) = buckets.get_mut(app) {
            return bucket.take(now, self.rate, self.burst, 1.0);
        }
        let mut bucket = Bucket::full(self.burst, now);
        let admit = bucket.take(now, self.rate, self.burst, 1.0);
        buckets.insert(app.into(), bucket);
        admit
    }

    /// Forget all usage (`POST /_reset`).
    pub(crate) fn reset(&self) {
        self.buckets
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

#[cfg(test)]
mod tests {
    use super::{Admit, Throttle};

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
}
