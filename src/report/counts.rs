//! What the progress display knows about a run (counts per status and
//! per step, finished users, the measured traffic, throttling) and how it
//! is written as text: the counter lines, the bar's message, the notices
//! printed above. Pure and clock-injected, so the formats are tested
//! without a terminal.

use std::time::Duration;

use tokio::time::Instant;

use crate::engine::RunEvent;
use crate::report::status::StatusCounts;
use crate::report::text::one_line;

/// Failures shown one by one; after them a single line says there are more.
pub const MAX_FAILURE_LINES: u64 = 20;
/// The line shown once after [`MAX_FAILURE_LINES`] failures.
pub const MORE_FAILURES: &str = "… more failures, see the report";
/// Longest throttling pause shown; longer ones are shown as this.
const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);
/// The budget is shown beside the measured rate once the rate reaches
/// this share of it: then the budget is what holds the run back (or was
/// just cut below it). Further below, the budget is not what happens.
const BUDGET_SHOWN_FROM: f64 = 0.8;

/// `ok N · changed N · failed N · skipped N` (`would change` instead of
/// `changed` in a dry run).
pub fn render_status(counts: &StatusCounts, dry_run: bool) -> String {
    let (label, changed) = if dry_run {
        ("would change", counts.would_change)
    } else {
        ("changed", counts.changed)
    };
    format!(
        "ok {} · {label} {changed} · failed {} · skipped {}",
        counts.ok, counts.failed, counts.skipped
    )
}

/// Everything the display knows, updated event by event.
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// Users in the run; `None` until the `Total` event.
    pub total: Option<u64>,
    /// Users finished by an earlier run.
    pub already_done: u64,
    /// Users finished by this run.
    pub finished: u64,
    pub users_failed: u64,
    pub all: StatusCounts,
    pub per_step: Vec<StatusCounts>,
    /// Throttling pauses announced (several workers may announce one).
    pub throttled: u64,
    pub throttled_until: Option<Instant>,
    /// The measured traffic, once the engine has told it.
    pub traffic: Option<Traffic>,
    pub failures: u64,
}

/// The run's traffic as the last [`RunEvent::Pace`] told it.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Traffic {
    /// Requests (or `$batch` items) answered per second, recently.
    pub answered_per_second: f64,
    /// Requests answered so far.
    pub answered: u64,
    /// 429 answers so far.
    pub throttled: u64,
    /// The rate budget now, if the directories keep one.
    pub budget_per_second: Option<f64>,
}

/// What the progress display counted, for the caller's exit decision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProgressTotals {
    /// Users finished, including those finished by an earlier run.
    pub users_finished: u64,
    pub users_failed: u64,
    pub throttled_events: u64,
}

impl Counts {
    pub fn new(steps: usize) -> Self {
        Counts {
            per_step: vec![StatusCounts::default(); steps],
            ..Counts::default()
        }
    }

    pub fn done(&self) -> u64 {
        self.already_done.saturating_add(self.finished)
    }

    pub fn totals(&self) -> ProgressTotals {
        ProgressTotals {
            users_finished: self.done(),
            users_failed: self.users_failed,
            throttled_events: self.throttled,
        }
    }

    /// Takes `event` into account; returns a line to print above the
    /// progress, if the event deserves one.
    pub fn apply(&mut self, event: RunEvent, now: Instant) -> Option<String> {
        match event {
            RunEvent::Total {
                users,
                already_done,
            } => {
                self.total = Some(users);
                self.already_done = already_done;
                None
            }
            RunEvent::Step { step, status } => {
                self.all.add(status);
                if let Some(s) = self.per_step.get_mut(step) {
                    s.add(status);
                }
                None
            }
            RunEvent::UserFinished { failed } => {
                self.finished = self.finished.saturating_add(1);
                if failed {
                    self.users_failed = self.users_failed.saturating_add(1);
                }
                None
            }
            RunEvent::Failure { user, step, reason } => {
                self.failures = self.failures.saturating_add(1);
                if self.failures <= MAX_FAILURE_LINES {
                    Some(format!(
                        "failed: {} {}: {}",
                        one_line(&user),
                        one_line(&step),
                        one_line(&reason)
                    ))
                } else if self.failures == MAX_FAILURE_LINES + 1 {
                    Some(MORE_FAILURES.to_owned())
                } else {
                    None
                }
            }
            RunEvent::Throttled { for_ } => {
                self.throttled = self.throttled.saturating_add(1);
                let until = now.checked_add(for_.min(MAX_PAUSE)).unwrap_or(now);
                self.throttled_until = Some(self.throttled_until.map_or(until, |u| u.max(until)));
                None
            }
            RunEvent::Pace {
                answered_per_second,
                answered,
                throttled,
                budget_per_second,
            } => {
                self.traffic = Some(Traffic {
                    answered_per_second,
                    answered,
                    throttled,
                    budget_per_second,
                });
                None
            }
            RunEvent::GuardTripped { reason } => Some(format!("stopped: {}", one_line(&reason))),
            RunEvent::Interrupted => Some(
                "interrupted: no new users are started; finishing the users in flight".to_owned(),
            ),
        }
    }

    /// `· N calls/s` (answers measured), `(budget N/s)` when the budget
    /// is what holds the rate back, `· 429s N` where the directories
    /// throttle, and `· throttled, resuming in N s` while a throttling
    /// pause lasts.
    fn push_pace_and_pause(&self, line: &mut String, now: Instant) {
        if let Some(t) = &self.traffic {
            line.push_str(&format!(" · {:.0} calls/s", t.answered_per_second));
            if let Some(budget) = t.budget_per_second
                && budget > 0.0
                && t.answered_per_second >= budget * BUDGET_SHOWN_FROM
            {
                line.push_str(&format!(" (budget {budget:.0}/s)"));
            }
            t.push_throttled(line);
        }
        if let Some(notice) = self.throttle_notice(now) {
            line.push_str(" · ");
            line.push_str(&notice);
        }
    }

    /// `throttled, resuming in N s` while a throttling pause lasts.
    pub fn throttle_notice(&self, now: Instant) -> Option<String> {
        let left = self.throttled_until?.checked_duration_since(now)?;
        (!left.is_zero()).then(|| {
            let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
            format!("throttled, resuming in {secs} s")
        })
    }

    fn percent(&self) -> f64 {
        match self.total {
            Some(total) if total > 0 => self.done() as f64 * 100.0 / total as f64,
            _ => 100.0,
        }
    }

    /// Users finished by this run per second of `elapsed`.
    fn rate(&self, elapsed: Duration) -> f64 {
        let secs = elapsed.as_secs_f64();
        if secs > 0.0 {
            self.finished as f64 / secs
        } else {
            0.0
        }
    }
}

impl Traffic {
    /// `· 429s N`, where a directory throttles (keeps a budget) or did.
    fn push_throttled(&self, line: &mut String) {
        if self.budget_per_second.is_some() || self.throttled > 0 {
            line.push_str(&format!(" · 429s {}", self.throttled));
        }
    }
}

/// One counter line:
/// `progress: <done>/<total> users (<pct>%) · ok N · changed N · failed N ·
/// skipped N · <rate> users/s · N calls/s · 429s N`, the budget when it
/// binds (`N calls/s (budget N/s)`), and `· throttled, resuming in N s`
/// during a pause.
pub fn render_counter_line(
    counts: &Counts,
    elapsed: Duration,
    now: Instant,
    dry_run: bool,
) -> String {
    let mut line = format!(
        "progress: {}/{} users ({:.1}%) · {} · {:.1} users/s",
        counts.done(),
        counts.total.unwrap_or(0),
        counts.percent(),
        render_status(&counts.all, dry_run),
        counts.rate(elapsed),
    );
    counts.push_pace_and_pause(&mut line, now);
    line
}

/// The last counter line: `progress: done <done>/<total> users ...`, with
/// the calls answered per second over the whole of `elapsed` and the 429s.
pub fn render_final_line(counts: &Counts, elapsed: Duration, dry_run: bool) -> String {
    let mut line = format!(
        "progress: done {}/{} users ({:.1}%) · {} · {:.1} users/s",
        counts.done(),
        counts.total.unwrap_or(0),
        counts.percent(),
        render_status(&counts.all, dry_run),
        counts.rate(elapsed),
    );
    if let Some(t) = &counts.traffic {
        let secs = elapsed.as_secs_f64();
        let overall = if secs > 0.0 {
            t.answered as f64 / secs
        } else {
            0.0
        };
        line.push_str(&format!(" · {overall:.0} calls/s"));
        t.push_throttled(&mut line);
    }
    line.push_str(&format!(" · {:.1} s", elapsed.as_secs_f64()));
    line
}

/// The overall bar's message: live counts, the traffic and the
/// throttling pause.
pub fn bar_message(counts: &Counts, now: Instant, dry_run: bool) -> String {
    let mut msg = render_status(&counts.all, dry_run);
    counts.push_pace_and_pause(&mut msg, now);
    msg
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::StepStatus;

    #[test]
    fn counter_line_format_is_stable() {
        let now = Instant::now();
        let mut c = Counts::new(1);
        c.apply(
            RunEvent::Total {
                users: 10_000,
                already_done: 34,
            },
            now,
        );
        for _ in 0..1200 {
            c.apply(RunEvent::UserFinished { failed: false }, now);
        }
        for (status, n) in [
            (StepStatus::Ok, 10),
            (StepStatus::Changed, 1200),
            (StepStatus::Failed, 2),
            (StepStatus::Skipped, 22),
        ] {
            for _ in 0..n {
                c.apply(RunEvent::Step { step: 0, status }, now);
            }
        }
        assert_eq!(
            render_counter_line(&c, Duration::from_secs(4), now, false),
            "progress: 1234/10000 users (12.3%) · ok 10 · changed 1200 · failed 2 · skipped 22 · 300.0 users/s"
        );
        c.apply(pace(812.4, 3, Some(1288.0)), now);
        assert_eq!(
            render_counter_line(&c, Duration::from_secs(4), now, false),
            "progress: 1234/10000 users (12.3%) · ok 10 · changed 1200 · failed 2 · skipped 22 · 300.0 users/s · 812 calls/s · 429s 3",
            "a budget far above what happens is not shown"
        );
        c.apply(
            RunEvent::Throttled {
                for_: Duration::from_millis(2500),
            },
            now,
        );
        assert_eq!(
            render_counter_line(&c, Duration::ZERO, now, true),
            "progress: 1234/10000 users (12.3%) · ok 10 · would change 0 · failed 2 · skipped 22 · 0.0 users/s · 812 calls/s · 429s 3 · throttled, resuming in 3 s"
        );
        assert_eq!(
            render_final_line(&c, Duration::from_secs(10), false),
            "progress: done 1234/10000 users (12.3%) · ok 10 · changed 1200 · failed 2 · skipped 22 · 120.0 users/s · 1000 calls/s · 429s 3 · 10.0 s",
            "the final line: answers over the whole run"
        );
        assert_eq!(c.throttle_notice(now + Duration::from_secs(3)), None);
        assert_eq!(c.per_step[0].changed, 1200);
    }

    #[test]
    fn a_huge_throttle_does_not_overflow() {
        let now = Instant::now();
        let mut c = Counts::new(0);
        c.apply(
            RunEvent::Throttled {
                for_: Duration::MAX,
            },
            now,
        );
        c.apply(
            RunEvent::Throttled {
                for_: Duration::from_secs(1),
            },
            now,
        );
        assert_eq!(
            c.throttle_notice(now).as_deref(),
            Some("throttled, resuming in 86400 s")
        );
    }

    #[test]
    fn bar_message_shows_counts_and_the_pause() {
        let now = Instant::now();
        let mut c = Counts::new(0);
        c.apply(
            RunEvent::Step {
                step: 0,
                status: StepStatus::WouldChange,
            },
            now,
        );
        assert_eq!(
            bar_message(&c, now, true),
            "ok 0 · would change 1 · failed 0 · skipped 0"
        );
        c.apply(
            RunEvent::Throttled {
                for_: Duration::from_secs(5),
            },
            now,
        );
        assert_eq!(
            bar_message(&c, now, false),
            "ok 0 · changed 0 · failed 0 · skipped 0 · throttled, resuming in 5 s"
        );
        c.apply(pace(41.6, 2, Some(45.0)), now);
        assert_eq!(
            bar_message(&c, now, false),
            "ok 0 · changed 0 · failed 0 · skipped 0 · 42 calls/s (budget 45/s) · 429s 2 · throttled, resuming in 5 s"
        );
    }

    /// A `Pace` event with 10,000 answers so far.
    fn pace(per_second: f64, throttled: u64, budget: Option<f64>) -> RunEvent {
        RunEvent::Pace {
            answered_per_second: per_second,
            answered: 10_000,
            throttled,
            budget_per_second: budget,
        }
    }

    #[test]
    fn the_budget_is_shown_only_where_it_holds_the_rate_back() {
        let now = Instant::now();
        let shown = |per_second: f64, budget: Option<f64>, throttled: u64| {
            let mut c = Counts::new(0);
            c.apply(pace(per_second, throttled, budget), now);
            bar_message(&c, now, false)
                .trim_start_matches("ok 0 · changed 0 · failed 0 · skipped 0")
                .to_owned()
        };
        // The service answers 200/s against a budget of 1288/s: the budget
        // is not what happens.
        assert_eq!(shown(200.0, Some(1288.0), 0), " · 200 calls/s · 429s 0");
        // At 80 % of the budget and above, it is what limits the run.
        assert_eq!(
            shown(800.0, Some(1000.0), 0),
            " · 800 calls/s (budget 1000/s) · 429s 0"
        );
        assert_eq!(shown(799.0, Some(1000.0), 0), " · 799 calls/s · 429s 0");
        // Just cut below the measured rate after a 429.
        assert_eq!(
            shown(900.0, Some(450.0), 7),
            " · 900 calls/s (budget 450/s) · 429s 7"
        );
        // Paused: nothing answered, nothing to compare.
        assert_eq!(shown(0.0, Some(0.0), 1), " · 0 calls/s · 429s 1");
        // Active Directory keeps no budget and never answers 429.
        assert_eq!(shown(312.0, None, 0), " · 312 calls/s");
    }
}
