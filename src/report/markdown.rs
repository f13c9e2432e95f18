//! `summary.md`: the run for people (and for GitHub's job summary): what
//! ran, a table of counts per step, the traffic (duration, calls, 429s,
//! time paused), and the first failed users.

use std::fmt::Write as _;

use crate::report::summary::{FailedStep, ReportSummary, RunInfo};
use crate::report::text::markdown as md;
use crate::rundir::RunTraffic;

/// Failed users listed in `summary.md`; the rest are in `results.csv`.
pub const MAX_LISTED: usize = 100;

/// Renders `summary.md`.
pub fn render(summary: &ReportSummary, info: &RunInfo) -> String {
    let mut out = String::new();
    let prefix = if info.dry_run { "DRY RUN — " } else { "" };
    let _ = writeln!(out, "# {prefix}remedy run: {}\n", md(&info.playbook_name));
    let tenant = info
        .tenant
        .as_deref()
        .map_or_else(|| "not pinned".to_owned(), md);
    let mode = if info.dry_run {
        "dry run (nothing was changed)"
    } else {
        "live"
    };
    let mut lines = vec![
        ("Run id", md(&info.run_id)),
        ("Playbook file", md(&info.playbook_file)),
        ("CSV file", md(&info.csv_file)),
    ];
    if info.directories.is_empty() {
        lines.push(("Tenant", tenant));
    } else {
        lines.extend(info.directories.iter().map(|d| ("Directory", md(d))));
    }
    lines.extend([
        ("Started", md(&info.started)),
        ("Finished", md(&info.finished)),
        ("Mode", mode.to_owned()),
        (
            "Users",
            format!(
                "{} finished, {} failed",
                summary.users, summary.users_failed
            ),
        ),
    ]);
    if let Some(shard) = &info.shard {
        lines.push((
            "Shard",
            format!("{} (only the CSV's users this shard selects)", md(shard)),
        ));
    }
    for (label, value) in lines {
        let _ = writeln!(out, "- **{label}:** {value}");
    }

    out.push_str("\n## Steps\n\n");
    if info.dry_run {
        out.push_str("| Step | ok | changed | would change | failed | skipped |\n");
        out.push_str("|---|--:|--:|--:|--:|--:|\n");
    } else {
        out.push_str("| Step | ok | changed | failed | skipped |\n");
        out.push_str("|---|--:|--:|--:|--:|\n");
    }
    for s in &summary.steps {
        let label = if s.title == s.id {
            md(&s.id)
        } else {
            format!("{}: {}", md(&s.id), md(&s.title))
        };
        let c = &s.counts;
        let _ = write!(out, "| {label} | {} | {} ", c.ok, c.changed);
        if info.dry_run {
            let _ = write!(out, "| {} ", c.would_change);
        }
        let _ = writeln!(out, "| {} | {} |", c.failed, c.skipped);
    }

    if let Some(t) = &info.traffic {
        push_traffic(&mut out, t);
    }

    out.push_str("\n## Failed users\n\n");
    if summary.failures.is_empty() {
        out.push_str("None.\n");
        return out;
    }
    out.push_str("| Row | User | Step | Reason |\n|--:|---|---|---|\n");
    let listed = summary.failures.len().min(MAX_LISTED);
    for f in &summary.failures[..listed] {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            f.row,
            md(&f.user),
            md(&f.step),
            md(&reason_with_ids(f))
        );
    }
    let more = summary.total_failures() - listed as u64;
    if more > 0 {
        let _ = writeln!(out, "\n…and {more} more (see results.csv)");
    }
    out
}

/// `## Traffic`: how long the run took, what it sent, and how much of it
/// the service refused or made it wait.
fn push_traffic(out: &mut String, t: &RunTraffic) {
    out.push_str("\n## Traffic\n\n");
    let mut duration = seconds(t.duration_s);
    if t.attempts > 1 {
        let _ = write!(duration, " over {} attempts", t.attempts);
    }
    let lines = [
        ("Duration", duration),
        (
            "Calls sent",
            format!("{} ({:.1} per second)", t.calls, t.calls_per_second()),
        ),
        (
            "Requests answered",
            format!("{} ({:.1} per second)", t.answered, t.answered_per_second()),
        ),
        ("429 answers", t.throttled.to_string()),
        ("Time paused", seconds(t.paused_s)),
    ];
    for (label, value) in lines {
        let _ = writeln!(out, "- **{label}:** {value}");
    }
}

/// `12.3 s`, `4 min 05 s`, `2 h 03 min`.
fn seconds(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    if secs < 60.0 {
        return format!("{secs:.1} s");
    }
    let whole = secs.round() as u64;
    if whole < 3600 {
        format!("{} min {:02} s", whole / 60, whole % 60)
    } else {
        format!("{} h {:02} min", whole / 3600, whole % 3600 / 60)
    }
}

/// The reason followed by the Graph error code and request id, which are
/// what Microsoft support asks for.
pub fn reason_with_ids(f: &FailedStep) -> String {
    let mut text = if f.reason.is_empty() {
        "failed".to_owned()
    } else {
        f.reason.clone()
    };
    match (&f.code, &f.request_id) {
        (Some(code), Some(id)) => {
            let _ = write!(text, " (code {code}, request-id {id})");
        }
        (Some(code), None) => {
            let _ = write!(text, " (code {code})");
        }
        (None, Some(id)) => {
            let _ = write!(text, " (request-id {id})");
        }
        (None, None) => {}
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::status::StatusCounts;
    use crate::report::summary::StepSummary;
    use crate::report::summary::tests::info;

    fn failure(i: u64) -> FailedStep {
        FailedStep {
            row: i + 2,
            user: format!("user{i}@contoso.com"),
            step: "reset".into(),
            reason: "user not found".into(),
            code: Some("Request_ResourceNotFound".into()),
            request_id: Some(format!("rid-{i}")),
        }
    }

    fn summary(failures: u64) -> ReportSummary {
        let listed = failures.min(1000);
        ReportSummary {
            steps: vec![
                StepSummary {
                    id: "enable".into(),
                    title: "Allow sign-in".into(),
                    counts: StatusCounts {
                        ok: 5,
                        changed: 3,
                        would_change: 2,
                        failed: 0,
                        skipped: 1,
                    },
                },
                StepSummary {
                    id: "reset".into(),
                    title: "reset".into(),
                    counts: StatusCounts {
                        failed: failures,
                        ..StatusCounts::default()
                    },
                },
            ],
            users: 9,
            users_failed: failures,
            failures: (0..listed).map(failure).collect(),
            more_failures: failures - listed,
        }
    }

    #[test]
    fn a_live_run_has_no_would_change_column() {
        let text = render(&summary(1), &info(false));
        assert!(
            text.starts_with("# remedy run: Unlock accounts\n"),
            "{text}"
        );
        assert!(text.contains("- **Tenant:** contoso.onmicrosoft.com\n"));
        assert!(text.contains("- **Mode:** live\n"));
        assert!(!text.contains("Shard"), "{text}");
        let mut sharded = info(false);
        sharded.shard = Some("2/3".into());
        assert!(
            render(&summary(1), &sharded)
                .contains("- **Shard:** 2/3 (only the CSV's users this shard selects)\n")
        );
        assert!(text.contains("| Step | ok | changed | failed | skipped |\n"));
        assert!(
            text.contains("| enable: Allow sign-in | 5 | 3 | 0 | 1 |\n"),
            "{text}"
        );
        assert!(text.contains("| reset | 0 | 0 | 1 | 0 |\n"), "{text}");
        assert!(text.contains(
            "| 2 | user0@contoso.com | reset | user not found (code Request\\_ResourceNotFound, request-id rid-0) |"
        ), "{text}");
        assert!(!text.contains("more (see results.csv)"));
    }

    #[test]
    fn a_dry_run_says_so_and_counts_would_change() {
        let mut i = info(true);
        i.tenant = None;
        let text = render(&summary(0), &i);
        assert!(
            text.starts_with("# DRY RUN — remedy run: Unlock accounts\n"),
            "{text}"
        );
        assert!(text.contains("- **Tenant:** not pinned\n"));
        assert!(text.contains("| Step | ok | changed | would change | failed | skipped |\n"));
        assert!(
            text.contains("| enable: Allow sign-in | 5 | 3 | 2 | 0 | 1 |\n"),
            "{text}"
        );
        assert!(text.contains("## Failed users\n\nNone.\n"));
    }

    #[test]
    fn the_traffic_section_shows_what_was_sent_and_the_waits() {
        let text = render(&summary(0), &info(false));
        assert!(
            !text.contains("## Traffic"),
            "no record, no section: {text}"
        );
        let mut i = info(false);
        i.traffic = Some(RunTraffic {
            duration_s: 125.0,
            calls: 500,
            answered: 9_000,
            throttled: 3,
            paused_s: 4.25,
            attempts: 1,
        });
        let text = render(&summary(0), &i);
        assert!(
            text.contains(
                "\n## Traffic\n\n\
                 - **Duration:** 2 min 05 s\n\
                 - **Calls sent:** 500 (4.0 per second)\n\
                 - **Requests answered:** 9000 (72.0 per second)\n\
                 - **429 answers:** 3\n\
                 - **Time paused:** 4.2 s\n\
                 \n## Failed users\n"
            ),
            "{text}"
        );
        i.traffic = Some(RunTraffic {
            duration_s: 7_384.0,
            attempts: 3,
            ..RunTraffic::default()
        });
        let text = render(&summary(0), &i);
        assert!(
            text.contains("- **Duration:** 2 h 03 min over 3 attempts\n"),
            "{text}"
        );
        assert!(
            text.contains("- **Calls sent:** 0 (0.0 per second)\n"),
            "{text}"
        );
    }

    #[test]
    fn failures_are_capped_with_the_rest_counted() {
        let text = render(&summary(1500), &info(false));
        assert_eq!(text.matches("| reset | user not found").count(), MAX_LISTED);
        assert!(
            text.ends_with("\n…and 1400 more (see results.csv)\n"),
            "{text}"
        );
    }

    #[test]
    fn cells_cannot_break_the_table() {
        let mut s = summary(0);
        s.failures.push(FailedStep {
            row: 2,
            user: "a|b\nc".into(),
            step: "reset".into(),
            reason: "x | y\r\nz <img src=x>".into(),
            code: None,
            request_id: None,
        });
        let text = render(&s, &info(false));
        let line = text.lines().find(|l| l.starts_with("| 2 |")).unwrap();
        assert_eq!(line, "| 2 | a\\|b c | reset | x \\| y z \\<img src=x\\> |");
    }
}
