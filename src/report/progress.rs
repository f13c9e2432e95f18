//! Live progress of a run on stderr, built only from
//! [`RunEvent`]s: an indicatif bar on a terminal, plain counter lines in CI
//! (no cursor movement, no escapes), or nothing. It owns no run state and
//! decides nothing; what it counts is returned as [`ProgressTotals`].
//!
//! Foreign text (user keys, Graph messages, step titles) is flattened to
//! one line with control characters escaped before it is shown, so a CSV
//! cell cannot drive the terminal.

use std::fmt;
use std::io::{self, IsTerminal as _, Write};
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};

use crate::engine::RunEvent;
use crate::report::counts::{
    Counts, bar_message, render_counter_line, render_final_line, render_status,
};
use crate::report::text::one_line;

pub use crate::report::counts::ProgressTotals;

/// Bounds on the counter interval: a zero interval would spin, a huge one
/// would overflow the clock.
const MIN_INTERVAL: Duration = Duration::from_millis(10);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);
/// How often the bars' messages are redrawn.
const BAR_REFRESH: Duration = Duration::from_millis(100);

/// How progress is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal (and `TERM` is not `dumb`), else
    /// counter lines.
    Auto,
    /// Live bars on stderr.
    Bar,
    /// One plain line every few seconds on stderr.
    Counter,
    /// Nothing.
    None,
}

impl ProgressMode {
    /// `Auto` made concrete. `NO_COLOR` does not forbid a bar (it only
    /// removes colour); a dumb terminal cannot move the cursor, so it
    /// does.
    fn resolve(self, stderr_is_terminal: bool, term: Option<&str>) -> Self {
        match self {
            ProgressMode::Auto if stderr_is_terminal && term != Some("dumb") => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Counter,
            mode => mode,
        }
    }
}

/// Consumes events until the channel closes. Bar: indicatif on stderr;
/// Counter: a plain line on stderr every `interval` (2 s in production)
/// and a final line; None: nothing. Auto = Bar when stderr is a terminal
/// and `TERM=dumb` does not forbid, else Counter. `color` (from
/// `--color` and `NO_COLOR`) colours the bars.
pub fn spawn(
    mode: ProgressMode,
    step_titles: Vec<String>,
    dry_run: bool,
    interval: Duration,
    color: bool,
    events: UnboundedReceiver<RunEvent>,
) -> JoinHandle<ProgressTotals> {
    let term = std::env::var("TERM").ok();
    let counts = Counts::new(step_titles.len());
    match mode.resolve(io::stderr().is_terminal(), term.as_deref()) {
        ProgressMode::Bar => {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            tokio::spawn(run_bar(events, counts, multi, step_titles, dry_run, color))
        }
        ProgressMode::Counter | ProgressMode::Auto => {
            tokio::spawn(run_counter(events, counts, interval, dry_run, io::stderr()))
        }
        ProgressMode::None => tokio::spawn(drain(events, counts)),
    }
}

/// Counter mode writing to `out`. Lines start only once the total is known;
/// write errors (a closed stderr) are ignored so events keep being drained.
async fn run_counter<W: Write>(
    mut events: UnboundedReceiver<RunEvent>,
    mut counts: Counts,
    interval: Duration,
    dry_run: bool,
    mut out: W,
) -> ProgressTotals {
    let interval = interval.clamp(MIN_INTERVAL, MAX_INTERVAL);
    let start = Instant::now();
    let mut ticker = tokio::time::interval_at(start + interval, interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                if let Some(line) = counts.apply(event, Instant::now()) {
                    let _ = writeln!(out, "{line}");
                }
            }
            _ = ticker.tick() => {
                if counts.total.is_some() {
                    let line = render_counter_line(&counts, start.elapsed(), Instant::now(), dry_run);
                    let _ = writeln!(out, "{line}");
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "{}",
        render_final_line(&counts, start.elapsed(), dry_run)
    );
    let _ = out.flush();
    counts.totals()
}

/// None mode: counts without showing anything.
async fn drain(mut events: UnboundedReceiver<RunEvent>, mut counts: Counts) -> ProgressTotals {
    while let Some(event) = events.recv().await {
        counts.apply(event, Instant::now());
    }
    counts.totals()
}

fn overall_style(color: bool) -> ProgressStyle {
    let bar = if color {
        "{bar:40.cyan/blue}"
    } else {
        "{bar:40}"
    };
    let template = format!(
        "{{elapsed_precise}} [{bar}] {{pos}}/{{len}} users {{per_sec}} ETA {{eta}}\n  {{wide_msg}}"
    );
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
        .with_key(
            "per_sec",
            |state: &ProgressState, w: &mut dyn fmt::Write| {
                let _ = write!(w, "{:.1}/s", state.per_sec());
            },
        )
}

fn step_style() -> ProgressStyle {
    ProgressStyle::with_template("  {prefix}: {wide_msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
}

fn refresh(counts: &Counts, overall: &ProgressBar, step_bars: &[ProgressBar], dry_run: bool) {
    overall.set_position(counts.done());
    overall.set_message(bar_message(counts, Instant::now(), dry_run));
    for (bar, s) in step_bars.iter().zip(&counts.per_step) {
        bar.set_message(render_status(s, dry_run));
    }
}

/// Bar mode: an overall bar with live counts and one line per step, in
/// `multi`. Notices go above the bars through `MultiProgress::println`.
async fn run_bar(
    mut events: UnboundedReceiver<RunEvent>,
    mut counts: Counts,
    multi: MultiProgress,
    step_titles: Vec<String>,
    dry_run: bool,
    color: bool,
) -> ProgressTotals {
    let overall = multi.add(ProgressBar::new(0).with_style(overall_style(color)));
    let step_bars: Vec<ProgressBar> = step_titles
        .iter()
        .map(|title| {
            multi.add(
                ProgressBar::new(0)
                    .with_style(step_style())
                    .with_prefix(one_line(title).into_owned()),
            )
        })
        .collect();
    refresh(&counts, &overall, &step_bars, dry_run);
    let mut ticker = tokio::time::interval(BAR_REFRESH);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                let is_total = matches!(event, RunEvent::Total { .. });
                if let Some(line) = counts.apply(event, Instant::now()) {
                    let _ = multi.println(line);
                }
                if is_total {
                    overall.set_length(counts.total.unwrap_or(0));
                    overall.set_position(counts.done());
                    // Users finished by an earlier run must not inflate
                    // the rate and the ETA.
                    overall.reset_eta();
                }
            }
            _ = ticker.tick() => refresh(&counts, &overall, &step_bars, dry_run),
        }
    }
    refresh(&counts, &overall, &step_bars, dry_run);
    overall.finish();
    for bar in &step_bars {
        bar.finish();
    }
    counts.totals()
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use tokio::sync::mpsc;

    use super::*;
    use crate::journal::StepStatus;
    use crate::report::counts::{MAX_FAILURE_LINES, MORE_FAILURES};

    /// A writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    fn failure(i: usize) -> RunEvent {
        RunEvent::Failure {
            user: format!("u{i}@x\u{1b}[2J"),
            step: "reset".into(),
            reason: "user not found\nnext".into(),
        }
    }

    /// A run of 10 users, 2 already done; 25 failures; one throttle.
    fn script(tx: &mpsc::UnboundedSender<RunEvent>) {
        tx.send(RunEvent::Total {
            users: 10,
            already_done: 2,
        })
        .unwrap();
        for i in 0..8 {
            tx.send(RunEvent::Step {
                step: 0,
                status: StepStatus::Changed,
            })
            .unwrap();
            tx.send(RunEvent::Step {
                step: 1,
                status: if i < 3 {
                    StepStatus::Failed
                } else {
                    StepStatus::Ok
                },
            })
            .unwrap();
            tx.send(RunEvent::UserFinished { failed: i < 3 }).unwrap();
        }
        tx.send(RunEvent::Step {
            step: 99,
            status: StepStatus::Skipped,
        })
        .unwrap();
        for i in 0..25 {
            tx.send(failure(i)).unwrap();
        }
        tx.send(RunEvent::Pace {
            answered_per_second: 120.0,
            answered: 40,
            throttled: 2,
            budget_per_second: Some(500.0),
        })
        .unwrap();
        tx.send(RunEvent::Throttled {
            for_: Duration::from_secs(30),
        })
        .unwrap();
        tx.send(RunEvent::GuardTripped {
            reason: "too many\nfailures".into(),
        })
        .unwrap();
        tx.send(RunEvent::Interrupted).unwrap();
    }

    fn expected_totals() -> ProgressTotals {
        ProgressTotals {
            users_finished: 10,
            users_failed: 3,
            throttled_events: 1,
        }
    }

    /// `progress: <done>/<total> users` parsed back.
    fn parse_progress(line: &str) -> Option<(u64, u64)> {
        let rest = line.strip_prefix("progress: ")?;
        let rest = rest.strip_prefix("done ").unwrap_or(rest);
        let (fraction, _) = rest.split_once(" users")?;
        let (done, total) = fraction.split_once('/')?;
        Some((done.parse().ok()?, total.parse().ok()?))
    }

    #[tokio::test]
    async fn counter_lines_are_parseable_and_failures_capped() {
        let (tx, rx) = mpsc::unbounded_channel();
        let out = Shared::default();
        let task = tokio::spawn(run_counter(
            rx,
            Counts::new(2),
            Duration::from_millis(20),
            false,
            out.clone(),
        ));
        script(&tx);
        tokio::time::sleep(Duration::from_millis(120)).await;
        drop(tx);
        assert_eq!(task.await.unwrap(), expected_totals());

        let text = out.text();
        assert!(!text.contains('\u{1b}') && !text.contains('\r'), "{text:?}");
        let lines: Vec<&str> = text.lines().collect();
        let failed: Vec<&&str> = lines.iter().filter(|l| l.starts_with("failed: ")).collect();
        assert_eq!(failed.len() as u64, MAX_FAILURE_LINES);
        assert_eq!(
            *failed[0],
            "failed: u0@x\\u{1b}[2J reset: user not found next"
        );
        assert_eq!(lines.iter().filter(|l| **l == MORE_FAILURES).count(), 1);
        assert!(lines.contains(&"stopped: too many failures"));
        assert!(lines.iter().any(|l| l.starts_with("interrupted: ")));

        let progress: Vec<&&str> = lines
            .iter()
            .filter(|l| l.starts_with("progress: "))
            .collect();
        assert!(progress.len() >= 2, "{text}");
        for line in &progress {
            assert!(parse_progress(line).is_some(), "{line}");
        }
        let last = lines.last().unwrap();
        assert!(
            last.starts_with(
                "progress: done 10/10 users (100.0%) · ok 5 · changed 8 · failed 3 · skipped 1"
            ),
            "{last}"
        );
        assert!(
            progress[..progress.len() - 1]
                .iter()
                .any(|l| l.contains("users/s · 120 calls/s · 429s 2 · throttled, resuming in 30 s")),
            "{text}"
        );
        assert!(last.contains(" calls/s · 429s 2 · "), "{last}");
    }

    #[tokio::test]
    async fn counter_waits_for_the_total_and_always_ends_with_a_final_line() {
        let (tx, rx) = mpsc::unbounded_channel();
        let out = Shared::default();
        let task = tokio::spawn(run_counter(
            rx,
            Counts::new(0),
            Duration::ZERO,
            true,
            out.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(tx);
        assert_eq!(task.await.unwrap(), ProgressTotals::default());
        assert_eq!(
            out.text(),
            format!("{}\n", out.text().lines().next().unwrap())
        );
        let line = out.text();
        assert!(
            line.starts_with(
                "progress: done 0/0 users (100.0%) · ok 0 · would change 0 · failed 0"
            ),
            "{line}"
        );
    }

    #[test]
    fn auto_picks_a_bar_only_on_a_capable_terminal() {
        use ProgressMode::{Auto, Bar, Counter, None};
        assert_eq!(Auto.resolve(true, Some("xterm-256color")), Bar);
        assert_eq!(Auto.resolve(true, Option::None), Bar);
        assert_eq!(Auto.resolve(true, Some("dumb")), Counter);
        assert_eq!(Auto.resolve(false, Some("xterm")), Counter);
        assert_eq!(Bar.resolve(false, Option::None), Bar);
        assert_eq!(None.resolve(true, Option::None), None);
    }

    #[tokio::test]
    async fn bar_mode_runs_and_finishes_on_a_hidden_target() {
        for color in [true, false] {
            let (tx, rx) = mpsc::unbounded_channel();
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::hidden());
            let titles = vec!["Allow sign-in".to_owned(), "evil\u{1b}[2J".to_owned()];
            let task = tokio::spawn(run_bar(rx, Counts::new(2), multi, titles, false, color));
            script(&tx);
            tokio::time::sleep(Duration::from_millis(150)).await;
            drop(tx);
            assert_eq!(task.await.unwrap(), expected_totals());
        }
    }

    /// A terminal that records what indicatif writes.
    #[derive(Debug, Clone, Default)]
    struct Recorder(Arc<Mutex<String>>);

    impl indicatif::TermLike for Recorder {
        fn width(&self) -> u16 {
            120
        }
        fn move_cursor_up(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_down(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_right(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn move_cursor_left(&self, _: usize) -> io::Result<()> {
            Ok(())
        }
        fn write_line(&self, s: &str) -> io::Result<()> {
            let mut text = self.0.lock().unwrap();
            text.push_str(s);
            text.push('\n');
            Ok(())
        }
        fn write_str(&self, s: &str) -> io::Result<()> {
            self.0.lock().unwrap().push_str(s);
            Ok(())
        }
        fn clear_line(&self) -> io::Result<()> {
            Ok(())
        }
        fn flush(&self) -> io::Result<()> {
            Ok(())
        }
    }

    #[tokio::test]
    async fn bar_mode_draws_counts_steps_and_notices_without_escapes() {
        let term = Recorder::default();
        let (tx, rx) = mpsc::unbounded_channel();
        let multi =
            MultiProgress::with_draw_target(ProgressDrawTarget::term_like(Box::new(term.clone())));
        let titles = vec!["Allow sign-in".to_owned(), "evil\u{1b}[2J".to_owned()];
        let task = tokio::spawn(run_bar(rx, Counts::new(2), multi, titles, false, false));
        script(&tx);
        tokio::time::sleep(Duration::from_millis(250)).await;
        drop(tx);
        assert_eq!(task.await.unwrap(), expected_totals());

        let text = term.0.lock().unwrap().clone();
        assert!(!text.contains('\u{1b}'), "{text:?}");
        assert!(text.contains("10/10 users"), "{text}");
        assert!(text.contains("/s ETA "), "{text}");
        assert!(
            text.contains(
                "ok 5 · changed 8 · failed 3 · skipped 1 · 120 calls/s · 429s 2 · throttled, resuming in"
            ),
            "{text}"
        );
        assert!(
            text.contains("Allow sign-in: ok 0 · changed 8 · failed 0 · skipped 0"),
            "{text}"
        );
        assert!(
            text.contains("evil\\u{1b}[2J: ok 5 · changed 0 · failed 3 · skipped 0"),
            "{text}"
        );
        assert!(
            text.contains("failed: u0@x\\u{1b}[2J reset: user not found next"),
            "{text}"
        );
        assert_eq!(
            text.matches("failed: u").count(),
            MAX_FAILURE_LINES as usize,
            "{text}"
        );
        assert_eq!(text.matches(MORE_FAILURES).count(), 1);
        assert!(text.contains("stopped: too many failures"));
        assert!(text.contains("interrupted: "));
    }

    #[tokio::test]
    async fn spawn_none_counts_silently() {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = spawn(
            ProgressMode::None,
            vec!["a".into(), "b".into()],
            false,
            Duration::from_secs(2),
            false,
            rx,
        );
        script(&tx);
        drop(tx);
        assert_eq!(task.await.unwrap(), expected_totals());
    }
}
