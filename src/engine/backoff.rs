//! Waiting before a retry after a transient failure that came without
//! `Retry-After` (5xx, broken connection, timeout): exponential backoff
//! with full jitter, so retries from many workers spread out instead of
//! arriving together. Throttling (429) is not handled here: the shared
//! limiter pauses every worker for the server's `Retry-After`.

use std::time::Duration;

use rand::RngExt;

/// The wait before retry number `attempt` (1-based): a random duration
/// between a quarter of and the whole of 0.5 s · 2^(attempt−1), capped at
/// 30 s.
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

    #[test]
    fn backoff_grows_and_is_capped() {
        for attempt in 1..20 {
            let d = backoff(attempt);
            assert!(d <= Duration::from_secs(30), "{attempt}: {d:?}");
        }
        assert!(backoff(1) <= Duration::from_millis(500));
        assert!(backoff(6) >= Duration::from_secs(4));
    }
}
