//! Injected faults: 500/503 answers, slow answers, connections closed
//! without an answer, and 504 Gateway Timeouts, decided per request before
//! anything is applied.
//!
//! One uniform draw per Graph request (or `$batch` item, or whole batch)
//! picks the fault: `[0, fail)` fails, the next `reset` slice drops the
//! connection, the next `slow` slice answers late, the next `gateway`
//! slice answers 504. Draw `n` depends only on `--seed` and `n`, so a
//! client that sends the same requests in the same order meets the same
//! faults. Bits of the same draw decide 500 or 503, and whether a dropped
//! connection or a 504 comes before or after the change is applied.

use std::sync::atomic::{AtomicU64, Ordering};

use super::ids::{splitmix64, unit};

/// What happens to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    None,
    /// 500 Internal Server Error, nothing applied.
    Error500,
    /// 503 Service Unavailable, nothing applied; sometimes `Retry-After: 1`.
    Error503 {
        retry_after: bool,
    },
    /// Applied, but answered only after `--slow-ms`.
    Slow,
    /// The connection is closed before anything is applied.
    DropBefore,
    /// Applied, then the connection is closed without an answer.
    DropAfter,
    /// 504 Gateway Timeout, with the change applied first or not at all.
    GatewayTimeout {
        applied: bool,
    },
}

/// Which faults can hit a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// A Graph request on its own: any fault.
    Direct,
    /// A `$batch` request as a whole: only a dropped connection.
    Envelope,
    /// One item of a batch: only failures, 504s and slowness (an item has
    /// no connection of its own to drop).
    Item,
}

#[derive(Debug)]
pub(crate) struct Faults {
    fail: f64,
    reset: f64,
    slow: f64,
    gateway: f64,
    seed: u64,
    draws: AtomicU64,
}

impl Faults {
    pub(crate) fn new(fail: f64, reset: f64, slow: f64, seed: u64) -> Self {
        Faults {
            fail,
            reset,
            slow,
            gateway: 0.0,
            seed,
            draws: AtomicU64::new(0),
        }
    }

    /// Also answer this fraction of requests 504 (after the other slices,
    /// so adding it leaves a seed's other faults where they were).
    pub(crate) fn with_gateway_timeouts(mut self, rate: f64) -> Self {
        self.gateway = rate;
        self
    }

    pub(crate) fn decide(&self, scope: Scope) -> Fault {
        let (fail, reset, slow, gateway) = match scope {
            Scope::Direct => (self.fail, self.reset, self.slow, self.gateway),
            Scope::Envelope => (0.0, self.reset, 0.0, 0.0),
            Scope::Item => (self.fail, 0.0, self.slow, self.gateway),
        };
        if fail <= 0.0 && reset <= 0.0 && slow <= 0.0 && gateway <= 0.0 {
            return Fault::None;
        }
        let n = self.draws.fetch_add(1, Ordering::Relaxed);
        let x = splitmix64(self.seed ^ splitmix64(n));
        let u = unit(x);
        let bits = splitmix64(x);
        if u < fail {
            if bits & 1 == 0 {
                Fault::Error500
            } else {
                Fault::Error503 {
                    retry_after: bits & 2 == 0,
                }
            }
        } else if u < fail + reset {
            if bits & 4 == 0 {
                Fault::DropBefore
            } else {
                Fault::DropAfter
            }
        } else if u < fail + reset + slow {
            Fault::Slow
        } else if u < fail + reset + slow + gateway {
            Fault::GatewayTimeout {
                applied: bits & 8 == 0,
            }
        } else {
            Fault::None
        }
    }

    /// Start the draw sequence again (`POST /_reset`).
    pub(crate) fn reset(&self) {
        self.draws.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(f: &Faults, scope: Scope, n: usize) -> [usize; 8] {
        let mut t = [0; 8];
        for _ in 0..n {
            t[match f.decide(scope) {
                Fault::None => 0,
                Fault::Error500 => 1,
                Fault::Error503 { .. } => 2,
                Fault::Slow => 3,
                Fault::DropBefore => 4,
                Fault::DropAfter => 5,
                Fault::GatewayTimeout { applied: false } => 6,
                Fault::GatewayTimeout { applied: true } => 7,
            }] += 1;
        }
        t
    }

    #[test]
    fn rates_and_reproducibility() {
        let f = Faults::new(0.2, 0.1, 0.1, 42);
        let t = tally(&f, Scope::Direct, 20_000);
        assert!((3_700..4_300).contains(&(t[1] + t[2])), "{t:?}");
        assert!((1_800..2_200).contains(&(t[4] + t[5])), "{t:?}");
        assert!((1_800..2_200).contains(&t[3]), "{t:?}");
        assert!(
            t[1] > 1_500 && t[2] > 1_500 && t[4] > 700 && t[5] > 700,
            "{t:?}"
        );
        f.reset();
        assert_eq!(tally(&f, Scope::Direct, 20_000), t);
        let other = Faults::new(0.2, 0.1, 0.1, 43);
        assert_ne!(tally(&other, Scope::Direct, 20_000), t);
    }

    #[test]
    fn scopes_limit_the_faults() {
        let f = Faults::new(0.0, 1.0, 0.0, 0);
        let items = tally(&f, Scope::Item, 100);
        assert_eq!(items[0], 100);
        let envelopes = tally(&f, Scope::Envelope, 100);
        assert_eq!(envelopes[4] + envelopes[5], 100);
        assert_eq!(
            tally(&Faults::new(0.0, 0.0, 0.0, 0), Scope::Direct, 10)[0],
            10
        );
    }

    #[test]
    fn gateway_timeouts_come_half_applied_and_leave_other_faults_alone() {
        let plain = Faults::new(0.2, 0.1, 0.1, 42);
        let with = Faults::new(0.2, 0.1, 0.1, 42).with_gateway_timeouts(0.3);
        let (a, b) = (
            tally(&plain, Scope::Direct, 20_000),
            tally(&with, Scope::Direct, 20_000),
        );
        // The same draws hit the same earlier slices; 504s take part of
        // what was `None`.
        assert_eq!(a[1..6], b[1..6]);
        assert_eq!(a[6] + a[7], 0);
        assert_eq!(b[0] + b[6] + b[7], a[0]);
        let timeouts = b[6] + b[7];
        assert!((5_700..6_300).contains(&timeouts), "{b:?}");
        assert!(b[6] > 2_700 && b[7] > 2_700, "{b:?}");
        // Items may time out too; an envelope never does.
        let only = Faults::new(0.0, 0.0, 0.0, 1).with_gateway_timeouts(1.0);
        let items = tally(&only, Scope::Item, 100);
        assert_eq!(items[6] + items[7], 100);
        assert_eq!(tally(&only, Scope::Envelope, 100)[0], 100);
    }
}
