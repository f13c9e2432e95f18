//! The run's traffic as the engine measures it: the rate of answers
//! ([`Rate`], answers per second over a short sliding window, so the
//! display does not flicker between ticks) and the time spent paused by
//! throttling ([`Pauses`], the union of the pauses announced: several
//! workers hearing 429s at once announce overlapping pauses that count
//! once). Both take the time from the caller (tokio's clock), so tests
//! run on a paused clock.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// The longest single pause counted; a longer one counts as this (as the
/// display shows it), so no clock arithmetic overflows.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// Answers per second over the last `window`, from cumulative totals
/// sampled every tick.
#[derive(Debug)]
pub struct Rate {
    window: Duration,
    /// (when, answered total then), oldest first; the first one is the
    /// base the rate is measured from.
    samples: VecDeque<(Instant, u64)>,
}

impl Rate {
    pub fn new(window: Duration) -> Self {
        Rate {
            window,
            samples: VecDeque::new(),
        }
    }

    /// Takes the answered total at `now` and returns the answers per
    /// second since the oldest sample within `window` of `now` (0 until
    /// two samples are apart in time). A total that went backwards (a
    /// counter never does) reads as no answers.
    pub fn sample(&mut self, now: Instant, answered: u64) -> f64 {
        self.samples.push_back((now, answered));
        // Drop the base while the next sample still spans the window.
        while self.samples.len() > 2
            && self.samples[1]
                .0
                .checked_add(self.window)
                .is_some_and(|t| t <= now)
        {
            self.samples.pop_front();
        }
        let Some(&(since, base)) = self.samples.front() else {
            return 0.0;
        };
        let span = now.saturating_duration_since(since).as_secs_f64();
        if span > 0.0 {
            answered.saturating_sub(base) as f64 / span
        } else {
            0.0
        }
    }
}

/// The union of pause intervals `[at, at + for_]`, announced in order of
/// `at` (the engine takes `at` under the lock that records it).
#[derive(Debug, Default)]
pub struct Pauses {
    /// Pauses that ended before the current one began.
    closed: Duration,
    /// The current stretch of overlapping pauses: its start and end.
    open: Option<(Instant, Instant)>,
}

impl Pauses {
    /// Every worker waits `for_` from `at`.
    pub fn add(&mut self, at: Instant, for_: Duration) {
        let end = at.checked_add(for_.min(MAX_PAUSE)).unwrap_or(at);
        match &mut self.open {
            // Overlaps (or touches) the current stretch: extend it.
            Some((start, until)) if at <= *until && end >= *start => {
                *start = (*start).min(at);
                *until = (*until).max(end);
            }
            open => {
                if let Some((start, until)) = open.take() {
                    self.closed += until.saturating_duration_since(start);
                }
                *open = Some((at, end));
            }
        }
    }

    /// Time paused up to `now` (a pause still under way counts until
    /// `now`, not to its announced end).
    pub fn total(&self, now: Instant) -> Duration {
        let open = self.open.map_or(Duration::ZERO, |(start, until)| {
            until.min(now).saturating_duration_since(start)
        });
        self.closed + open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TICK: Duration = Duration::from_millis(500);

    #[tokio::test(start_paused = true)]
    async fn the_rate_is_smoothed_over_its_window() {
        let mut rate = Rate::new(Duration::from_secs(2));
        let t0 = Instant::now();
        assert_eq!(rate.sample(t0, 0), 0.0, "one sample is no rate");
        // 100 answers per tick for four ticks: 200 per second.
        let mut total = 0;
        let mut last = 0.0;
        for _ in 0..4 {
            tokio::time::advance(TICK).await;
            total += 100;
            last = rate.sample(Instant::now(), total);
        }
        assert!((last - 200.0).abs() < 1e-9, "{last}");
        // A burst of 400 in one tick moves the rate by a quarter of it, not
        // to 800: the window holds four ticks.
        tokio::time::advance(TICK).await;
        total += 400;
        let burst = rate.sample(Instant::now(), total);
        assert!((burst - 350.0).abs() < 1e-9, "{burst}");
        // Then nothing for a whole window: zero.
        for _ in 0..4 {
            tokio::time::advance(TICK).await;
            last = rate.sample(Instant::now(), total);
        }
        assert_eq!(last, 0.0);
        assert!(rate.samples.len() <= 5, "old samples are dropped");
    }

    #[tokio::test(start_paused = true)]
    async fn the_rate_of_a_late_first_tick_and_of_a_counter_gone_back() {
        let mut rate = Rate::new(Duration::from_secs(2));
        let t0 = Instant::now();
        rate.sample(t0, 30);
        // A tick delayed to 3 s: the rate covers the whole 3 s.
        let r = rate.sample(t0 + Duration::from_secs(3), 120);
        assert!((r - 30.0).abs() < 1e-9, "{r}");
        let r = rate.sample(t0 + Duration::from_secs(4), 10);
        assert_eq!(r, 0.0);
        // The same instant twice: no division by zero.
        let mut same = Rate::new(Duration::from_secs(2));
        same.sample(t0, 5);
        assert_eq!(same.sample(t0, 50), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn overlapping_pauses_count_once() {
        let t0 = Instant::now();
        let s = Duration::from_secs;
        let mut p = Pauses::default();
        // Three workers hear the same 429: [0, 10], [1, 10], [2, 11].
        p.add(t0, s(10));
        p.add(t0 + s(1), s(9));
        p.add(t0 + s(2), s(9));
        assert_eq!(p.total(t0 + s(60)), s(11));
        // A later pause apart from them: [20, 25].
        p.add(t0 + s(20), s(5));
        assert_eq!(p.total(t0 + s(60)), s(16));
        // One that starts exactly as the last ends: [25, 27].
        p.add(t0 + s(25), s(2));
        assert_eq!(p.total(t0 + s(60)), s(18));
        // Read during a pause: counted up to now only.
        p.add(t0 + s(30), s(10));
        assert_eq!(p.total(t0 + s(34)), s(22));
        assert_eq!(p.total(t0 + s(60)), s(28));
    }

    #[tokio::test(start_paused = true)]
    async fn pauses_on_the_paused_clock_and_a_huge_one() {
        let mut p = Pauses::default();
        let start = Instant::now();
        p.add(Instant::now(), Duration::from_secs(3));
        tokio::time::advance(Duration::from_secs(1)).await;
        p.add(Instant::now(), Duration::from_secs(1));
        tokio::time::advance(Duration::from_secs(5)).await;
        assert_eq!(p.total(Instant::now()), Duration::from_secs(3));
        // An unbounded pause is capped; nothing overflows.
        p.add(Instant::now(), Duration::MAX);
        let later = Instant::now() + Duration::from_secs(2 * 24 * 3600);
        assert_eq!(
            p.total(later),
            Duration::from_secs(3) + MAX_PAUSE,
            "{:?}",
            later - start
        );
        assert_eq!(Pauses::default().total(start), Duration::ZERO);
    }
}
