//! Honouring the service's throttling and retrying transient failures.
//!
//! Graph throttles per app and tenant, so a 429 for one worker is a 429 for
//! all: [`Pace`] holds one "paused until" instant that every request waits
//! for, instead of each worker discovering the limit on its own (the
//! thundering herd that wastes calls). Backoff for 5xx and broken
//! connections is exponential with full jitter.

use std::sync::Mutex;
use std::time::Duration;

use rand::RngExt;
use tokio::time::Instant;

/// Longest single wait remedy accepts from `Retry-After` or backoff.
pub const MAX_WAIT: Duration = Duration::from_secs(120);

/// The shared pause.
#[derive(Debug)]
pub struct Pace {
    paused_until: Mutex<Option<Instant>>,
}

impl Default for Pace {
    fn default() -> Self {
        Pace {
            paused_until: Mutex::new(None),
        }
    }
}

impl Pace {
    /// Waits while the service has asked everyone to pause.
    pub async fn ready(&self) {
        loop {
            let until = *self
                .paused_until
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            match until {
                Some(t) if t > Instant::now() => tokio::time::sleep_until(t).await,
                _ => return,
            }
        }
    }

    /// Pauses every worker for `wait` (extending, never shortening, a pause
    /// already in force). Returns the new pause length.
    pub fn pause(&self, wait: Duration) -> Duration {
        let wait = wait.min(MAX_WAIT);
        let until = Instant::now() + wait;
        let mut p = self
            .paused_until
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if p.is_none_or(|cur| cur < until) {
            *p = Some(until);
        }
        wait
    }
}

/// The wait before retry number `attempt` (1-based) after a transient
/// failure without `Retry-After`: full jitter over 0.5 s · 2^(attempt−1),
/// capped at 30 s.
pub fn backoff(attempt: u32) -> Duration {
    let cap = Duration::from_millis(500)
        .saturating_mul(1u32 << attempt.saturating_sub(1).min(8))
        .min(Duration::from_secs(30));
    let ms = u64::try_from(cap.as_millis()).unwrap_or(30_000);
    Duration::from_millis(rand::rng().random_range(ms / 4..=ms.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_pause_holds_every_worker() {
        let pace = std::sync::Arc::new(Pace::default());
        pace.pause(Duration::from_secs(10));
        let start = Instant::now();
        let waits: Vec<_> = (0..5)
            .map(|_| {
                let p = pace.clone();
                tokio::spawn(async move {
                    p.ready().await;
                    Instant::now()
                })
            })
            .collect();
        for w in waits {
            assert!(w.await.unwrap() - start >= Duration::from_secs(10));
        }
        // A shorter pause never cuts a longer one.
        pace.pause(Duration::from_secs(30));
        pace.pause(Duration::from_secs(1));
        let t = Instant::now();
        pace.ready().await;
        assert!(Instant::now() - t >= Duration::from_secs(30));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= Duration::from_secs(30), "{attempt}: {d:?}");
        }
        assert!(backoff(1) <= Duration::from_millis(500));
    }
}
