//! Texts the commands print at the end of a session: the closing lines of
//! `remedy plan` and the users `remedy apply` left alone because they
//! drifted.

use std::path::Path;

use crate::plan::PlanEnd;
use crate::report::one_line;
use crate::session::Drifted;

/// The closing lines of `remedy plan` on stdout.
pub fn plan_summary(end: &PlanEnd, out: &Path) -> String {
    let mut s = format!(
        "\nPlan: {} change{} for {} of {} users",
        end.changes,
        if end.changes == 1 { "" } else { "s" },
        end.would_change,
        end.users
    );
    for (n, what) in [
        (end.no_change, "nothing to do"),
        (end.not_found, "not found"),
        (end.protected, "protected"),
        (end.failed, "could not be read"),
    ] {
        if n > 0 {
            s.push_str(&format!("; {n} {what}"));
        }
    }
    s.push_str(&format!(".\nSaved to {}", out.display()));
    if end.changes > 0 {
        s.push_str(&format!("; apply it with `remedy apply {}`", out.display()));
    }
    s.push('\n');
    s
}

/// The users an apply did not change because they drifted since the plan.
pub fn drifted(d: &Drifted) -> String {
    let n = d.users;
    let mut s = format!(
        "\n{n} user{} drifted since the plan and {} not changed:\n",
        if n == 1 { "" } else { "s" },
        if n == 1 { "was" } else { "were" }
    );
    for line in &d.shown {
        s.push_str(&format!("  {}\n", one_line(line)));
    }
    if n > d.shown.len() as u64 {
        s.push_str(&format!(
            "  … and {} more (code `drifted` in results.csv)\n",
            n - d.shown.len() as u64
        ));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifted_users_are_listed_on_one_line_each() {
        let d = Drifted {
            users: 3,
            shown: vec!["a@x.com (s1): drifted\nsince".into()],
        };
        let text = drifted(&d);
        assert!(text.starts_with("\n3 users drifted since the plan and were not changed:\n"));
        assert!(text.contains("  a@x.com (s1): drifted since\n"), "{text}");
        assert!(text.ends_with("  … and 2 more (code `drifted` in results.csv)\n"));
    }
}
