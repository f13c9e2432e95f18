//! The end-of-run table for the terminal: counts per step, then the first
//! failed users. Plain text, no colour; foreign text is flattened to one
//! line with control characters escaped.

use std::fmt::Write as _;

use crate::report::markdown::reason_with_ids;
use crate::report::summary::ReportSummary;
use crate::report::text::one_line;

/// Longest step label shown before it is cut with `…`.
const MAX_LABEL: usize = 48;

/// The end-of-run table for the terminal: one line per step with
/// ok/changed/(would change)/failed/skipped columns, then up to
/// `max_failures` failed users (row, user, step, reason with Graph code and
/// request-id), then "… and N more (see results.csv)".
#[must_use]
pub fn render_table(summary: &ReportSummary, dry_run: bool, max_failures: usize) -> String {
    let labels: Vec<String> = summary
        .steps
        .iter()
        .map(|s| {
            let label = if s.title == s.id {
                one_line(&s.id).into_owned()
            } else {
                format!("{}: {}", one_line(&s.id), one_line(&s.title))
            };
            truncate(&label, MAX_LABEL)
        })
        .collect();
    let width = labels
        .iter()
        .map(|l| l.chars().count())
        .chain([4])
        .max()
        .unwrap_or(4);

    let mut headers = vec!["ok", "changed"];
    if dry_run {
        headers.push("would change");
    }
    headers.extend(["failed", "skipped"]);

    let mut out = String::new();
    let _ = write!(out, "{:<width$}", "step");
    for h in &headers {
        let _ = write!(out, "  {h:>7}");
    }
    out.push('\n');
    for (s, label) in summary.steps.iter().zip(&labels) {
        let c = &s.counts;
        let mut cells = vec![c.ok, c.changed];
        if dry_run {
            cells.push(c.would_change);
        }
        cells.extend([c.failed, c.skipped]);
        let _ = write!(
            out,
            "{label}{:pad$}",
            "",
            pad = width - label.chars().count()
        );
        for (h, n) in headers.iter().zip(cells) {
            let w = h.len().max(7);
            let _ = write!(out, "  {n:>w$}");
        }
        out.push('\n');
    }

    let total = summary.total_failures();
    if total == 0 {
        return out;
    }
    let shown = summary.failures.len().min(max_failures);
    let _ = writeln!(out, "\nfailed ({total}):");
    for f in &summary.failures[..shown] {
        let _ = writeln!(
            out,
            "  row {}  {}  {}: {}",
            f.row,
            one_line(&f.user),
            one_line(&f.step),
            one_line(&reason_with_ids(f))
        );
    }
    let more = total - shown as u64;
    if more > 0 {
        let _ = writeln!(out, "  … and {more} more (see results.csv)");
    }
    out
}

/// `s` cut to `max` characters, the last one replaced by `…` when cut.
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut cut: String = s.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::status::StatusCounts;
    use crate::report::summary::{FailedStep, StepSummary};

    fn summary() -> ReportSummary {
        ReportSummary {
            steps: vec![
                StepSummary {
                    id: "enable".into(),
                    title: "Allow sign-in".into(),
                    counts: StatusCounts {
                        ok: 10,
                        changed: 1200,
                        would_change: 0,
                        failed: 0,
                        skipped: 22,
                    },
                },
                StepSummary {
                    id: "reset".into(),
                    title: "reset".into(),
                    counts: StatusCounts {
                        ok: 0,
                        changed: 0,
                        would_change: 7,
                        failed: 3,
                        skipped: 0,
                    },
                },
            ],
            users: 1232,
            users_failed: 3,
            failures: (0..3)
                .map(|i| FailedStep {
                    row: i + 2,
                    user: format!("u{i}@x\u{1b}[2J"),
                    step: "reset".into(),
                    reason: "user not found\nsecond line".into(),
                    code: Some("Request_ResourceNotFound".into()),
                    request_id: Some(format!("rid-{i}")),
                })
                .collect(),
            more_failures: 40,
        }
    }

    #[test]
    fn live_table_aligns_columns_and_caps_failures() {
        let text = render_table(&summary(), false, 2);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "step                        ok  changed   failed  skipped"
        );
        assert_eq!(
            lines[1],
            "enable: Allow sign-in       10     1200        0       22"
        );
        assert_eq!(
            lines[2],
            "reset                        0        0        3        0"
        );
        assert_eq!(lines[4], "failed (43):");
        assert_eq!(
            lines[5],
            "  row 2  u0@x\\u{1b}[2J  reset: user not found second line (code Request_ResourceNotFound, request-id rid-0)"
        );
        assert_eq!(lines[7], "  … and 41 more (see results.csv)");
        assert_eq!(lines.len(), 8);
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn dry_run_table_has_a_would_change_column() {
        let text = render_table(&summary(), true, 0);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "step                        ok  changed  would change   failed  skipped"
        );
        assert_eq!(
            lines[2],
            "reset                        0        0             7        3        0"
        );
        assert_eq!(lines.last(), Some(&"  … and 43 more (see results.csv)"));
    }

    #[test]
    fn no_failures_means_no_failure_section() {
        let s = ReportSummary {
            steps: Vec::new(),
            ..ReportSummary::default()
        };
        assert_eq!(
            render_table(&s, false, 20),
            "step       ok  changed   failed  skipped\n"
        );
    }

    #[test]
    fn long_labels_are_cut() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("abc", 0), "…");
    }
}
