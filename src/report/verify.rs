//! The verify pass's reports: the terminal table and `verify.md`. Foreign
//! text (user keys, step ids, values read from the directory) goes through
//! the same escaping as every other report: one line, no control or bidi
//! characters on the terminal, Markdown's special characters escaped.

use crate::report::text::{markdown, one_line};
use crate::verify::{CheckStatus, VerifySummary};

/// The terminal table: counts, then the checks that did not hold.
pub fn render_verify_table(s: &VerifySummary) -> String {
    let mut out = format!(
        "\nVerify: {} users, {} checks: {} ok, {} drift, {} errors\n",
        s.users, s.checks, s.ok, s.drift, s.errors
    );
    if s.shown.is_empty() {
        return out;
    }
    let rows: Vec<[String; 6]> = s
        .shown
        .iter()
        .map(|c| {
            [
                if c.status == CheckStatus::Drift {
                    "DRIFT"
                } else {
                    "ERROR"
                }
                .to_owned(),
                one_line(&c.user).into_owned(),
                one_line(&c.step).into_owned(),
                c.property.to_owned(),
                one_line(&c.expected).into_owned(),
                one_line(&c.actual).into_owned(),
            ]
        })
        .collect();
    let head = ["STATUS", "USER", "STEP", "PROPERTY", "EXPECTED", "ACTUAL"];
    let widths: Vec<usize> = (0..6)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].chars().count())
                .chain([head[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[&str]| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                l.push_str(c);
            } else {
                l.push_str(&format!("{c:<w$}  ", w = widths[i]));
            }
        }
        l.push('\n');
        l
    };
    out.push_str(&line(&head));
    for r in &rows {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
    }
    let more = s.drift + s.errors - s.shown.len() as u64;
    if more > 0 {
        out.push_str(&format!("… and {more} more in verify.jsonl\n"));
    }
    out
}

/// `verify.md`: the counts, then the checks that did not hold.
pub fn render_verify_markdown(s: &VerifySummary) -> String {
    let mut out = format!(
        "# remedy verify\n\n| users | checks | ok | drift | errors |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        s.users, s.checks, s.ok, s.drift, s.errors
    );
    if !s.shown.is_empty() {
        out.push_str("\n| row | user | step | property | status | expected | actual |\n|---:|---|---|---|---|---|---|\n");
        for c in &s.shown {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                c.row,
                markdown(&c.user),
                markdown(&c.step),
                c.property,
                if c.status == CheckStatus::Drift {
                    "drift"
                } else {
                    "error"
                },
                markdown(&c.expected),
                markdown(&c.actual)
            ));
        }
        let more = s.drift + s.errors - s.shown.len() as u64;
        if more > 0 {
            out.push_str(&format!("\n… and {more} more in verify.jsonl.\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::Check;

    fn summary(user: &str, actual: &str) -> VerifySummary {
        let check = Check {
            row: 2,
            user: user.into(),
            step: "allow".into(),
            property: "accountEnabled",
            status: CheckStatus::Drift,
            expected: "true".into(),
            actual: actual.into(),
        };
        VerifySummary {
            users: 1,
            checks: 1,
            drift: 1,
            shown: vec![check],
            ..VerifySummary::default()
        }
    }

    #[test]
    fn foreign_text_is_escaped_in_the_table_and_the_markdown() {
        let s = summary("evil\u{202e}@x.com", "<img src=x> [a](http://b) | c\nd");
        let table = render_verify_table(&s);
        assert!(!table.contains('\u{202e}'), "{table}");
        assert!(table.contains("\\u{202e}"), "{table}");
        let md = render_verify_markdown(&s);
        // Every `<`, `[` and `|` from the directory is escaped.
        assert!(
            md.contains("\\<img src=x\\> \\[a\\](http://b) \\| c d"),
            "{md}"
        );
        assert_eq!(
            md.lines().filter(|l| l.starts_with("| 2 |")).count(),
            1,
            "{md}"
        );
    }
}
