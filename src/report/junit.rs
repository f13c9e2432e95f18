//! `junit.xml`: one test suite per step, one test case per user outcome,
//! written by hand (no XML crate) with every foreign string escaped.
//!
//! The suite counts come first in each opening tag, so they are taken from
//! the summary (one pass) and each suite's cases are written by streaming
//! the journal again, filtered to that step: steps are few, users many,
//! and nothing per user is held in memory.

use crate::atomic_file::AtomicFile;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::journal::StepStatus;
use crate::journal::for_each_record;
use crate::report::outcome::OutcomeRef;
use crate::report::summary::{ReportSummary, RunInfo};
use crate::report::text::xml;

/// Writes `junit.xml` at `path` for the run whose `summary` was read from
/// `journal`.
pub fn write(
    journal: &Path,
    summary: &ReportSummary,
    info: &RunInfo,
    path: &Path,
) -> io::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 16, AtomicFile::create(path)?);
    let tests: u64 = summary.steps.iter().map(|s| s.counts.total()).sum();
    let failures: u64 = summary.steps.iter().map(|s| s.counts.failed).sum();
    let skipped: u64 = summary.steps.iter().map(|s| s.counts.skipped).sum();
    writeln!(out, r#"<?xml version="1.0" encoding="UTF-8"?>"#)?;
    writeln!(
        out,
        r#"<testsuites name="remedy {}" tests="{tests}" failures="{failures}" skipped="{skipped}">"#,
        xml(&info.playbook_name)
    )?;
    for step in &summary.steps {
        let cases = step.counts.total();
        writeln!(
            out,
            r#"  <testsuite name="{}: {}" tests="{cases}" failures="{}" skipped="{}">"#,
            xml(&step.id),
            xml(&step.title),
            step.counts.failed,
            step.counts.skipped
        )?;
        if cases > 0 {
            let mut written: u64 = 0;
            for_each_record(journal, |record| {
                if let Some(o) = OutcomeRef::of(&record)
                    && o.step == step.id
                    && written < cases
                {
                    written += 1;
                    write_case(&mut out, &o)?;
                }
                Ok(())
            })?;
        }
        writeln!(out, "  </testsuite>")?;
    }
    writeln!(out, "</testsuites>")?;
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .commit()
}

/// One `<testcase>`: failed and skipped outcomes say why; the others pass
/// and carry their status in `<system-out>`.
fn write_case(out: &mut impl Write, o: &OutcomeRef<'_>) -> io::Result<()> {
    write!(
        out,
        r#"    <testcase classname="{}" name="{} (row {})">"#,
        xml(o.step),
        xml(o.user),
        o.row
    )?;
    let reason = o.reason.unwrap_or_default();
    match o.status {
        StepStatus::Failed => {
            write!(
                out,
                r#"<failure message="{}" type="{}">{}"#,
                xml(reason),
                xml(o.code.unwrap_or("failed")),
                xml(reason)
            )?;
            if let Some(code) = o.code {
                write!(out, "&#10;code: {}", xml(code))?;
            }
            if let Some(id) = o.request_id {
                write!(out, "&#10;request-id: {}", xml(id))?;
            }
            write!(out, "&#10;attempts: {}</failure>", o.attempts)?;
        }
        StepStatus::Skipped => {
            let message = if reason.is_empty() { "skipped" } else { reason };
            write!(out, r#"<skipped message="{}"/>"#, xml(message))?;
        }
        StepStatus::Ok | StepStatus::Changed | StepStatus::WouldChange => {
            write!(out, "<system-out>{}", o.status.as_str())?;
            if !reason.is_empty() {
                write!(out, ": {}", xml(reason))?;
            }
            write!(out, "</system-out>")?;
        }
    }
    writeln!(out, "</testcase>")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Record;
    use crate::report::summary::summarize;
    use crate::report::summary::tests::{header, info, outcome, sample, steps, write_journal};

    /// A deliberately small XML 1.0 well-formedness check: balanced and
    /// properly nested elements, quoted attributes without raw `<` or `&`,
    /// only known entities, no raw `<`/`&` in text, no illegal characters.
    /// Returns the element names in document order.
    fn check_well_formed(doc: &str) -> Result<Vec<String>, String> {
        fn check_entities(s: &str) -> Result<(), String> {
            let mut rest = s;
            while let Some(i) = rest.find('&') {
                let after = &rest[i + 1..];
                let end = after
                    .find(';')
                    .ok_or_else(|| format!("unterminated entity in {s:?}"))?;
                let name = &after[..end];
                let known = matches!(name, "amp" | "lt" | "gt" | "quot" | "apos")
                    || name
                        .strip_prefix('#')
                        .is_some_and(|n| n.parse::<u32>().is_ok());
                if !known {
                    return Err(format!("unknown entity &{name};"));
                }
                rest = &after[end + 1..];
            }
            Ok(())
        }
        if let Some(c) = doc.chars().find(|&c| {
            !matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
        }) {
            return Err(format!("illegal character {c:?}"));
        }
        let body = doc
            .strip_prefix(r#"<?xml version="1.0" encoding="UTF-8"?>"#)
            .ok_or("no XML declaration")?;
        let mut stack: Vec<String> = Vec::new();
        let mut names = Vec::new();
        let mut rest = body;
        let mut seen_root = false;
        while let Some(open) = rest.find('<') {
            let text = &rest[..open];
            if text.contains('>') {
                return Err(format!("raw `>` in text {text:?}"));
            }
            check_entities(text)?;
            if stack.is_empty() && !text.trim().is_empty() {
                return Err(format!("text outside the root: {text:?}"));
            }
            let after = &rest[open + 1..];
            let mut in_quote = false;
            let close = after
                .char_indices()
                .find(|&(_, c)| {
                    if c == '"' {
                        in_quote = !in_quote;
                    }
                    !in_quote && c == '>'
                })
                .map(|(i, _)| i)
                .ok_or("unterminated tag")?;
            let tag = &after[..close];
            rest = &after[close + 1..];
            if let Some(name) = tag.strip_prefix('/') {
                match stack.pop() {
                    Some(open) if open == name => {}
                    other => return Err(format!("`</{name}>` closes {other:?}")),
                }
                continue;
            }
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let (name, mut attrs) = tag.split_once(' ').unwrap_or((tag, ""));
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(format!("bad element name {name:?}"));
            }
            loop {
                attrs = attrs.trim_start();
                if attrs.is_empty() {
                    break;
                }
                let (key, value_and_rest) = attrs.split_once("=\"").ok_or("unquoted attribute")?;
                if !key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
                {
                    return Err(format!("bad attribute name {key:?}"));
                }
                let end = value_and_rest.find('"').ok_or("unterminated attribute")?;
                let value = &value_and_rest[..end];
                if value.contains('<') {
                    return Err(format!("raw `<` in attribute {value:?}"));
                }
                check_entities(value)?;
                attrs = &value_and_rest[end + 1..];
            }
            if stack.is_empty() {
                if seen_root {
                    return Err("two root elements".into());
                }
                seen_root = true;
            }
            names.push(name.to_owned());
            if !self_closing {
                stack.push(name.to_owned());
            }
        }
        if !rest.trim().is_empty() || !stack.is_empty() {
            return Err(format!("unclosed elements {stack:?}"));
        }
        Ok(names)
    }

    fn junit_for(records: &[Record]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let journal = write_journal(dir.path(), records);
        let summary = summarize(&journal, &steps()).unwrap();
        let path = dir.path().join("junit.xml");
        write(&journal, &summary, &info(false), &path).unwrap();
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn suites_and_cases_follow_the_steps() {
        let doc = junit_for(&sample());
        let names = check_well_formed(&doc).unwrap();
        assert_eq!(names.iter().filter(|n| *n == "testsuite").count(), 2);
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 6);
        assert!(doc.contains(
            r#"<testsuites name="remedy Unlock accounts" tests="6" failures="1" skipped="1">"#
        ));
        assert!(doc.contains(
            r#"<testsuite name="enable: Allow sign-in" tests="3" failures="0" skipped="0">"#
        ));
        assert!(doc.contains(
            r#"<testsuite name="reset: Reset the password" tests="3" failures="1" skipped="1">"#
        ));
        assert!(doc.contains(
            r#"<testcase classname="reset" name="bob@contoso.com (row 3)"><failure message="bob@contoso.com failed" type="Request_ResourceNotFound">"#
        ));
        assert!(doc.contains("request-id: rid-3"));
        assert!(doc.contains("<system-out>changed</system-out>"));
        let enable = doc.find("enable: Allow").unwrap();
        let reset = doc.find("reset: Reset").unwrap();
        let bob_reset = doc.find(r#"classname="reset" name="bob"#).unwrap();
        assert!(enable < reset && reset < bob_reset);
    }

    #[test]
    fn hostile_text_is_escaped_and_illegal_characters_dropped() {
        let evil = "<script>&\"'</script>\u{0}\u{1b}[2J\u{FFFF}]]>\n\t";
        let records = vec![
            header(),
            Record::Outcome {
                row: 2,
                user: evil.into(),
                step: "reset".into(),
                status: StepStatus::Failed,
                reason: Some(evil.into()),
                code: Some(evil.into()),
                request_id: Some(evil.into()),
                attempts: 2,
            },
            Record::Outcome {
                row: 2,
                user: evil.into(),
                step: "enable".into(),
                status: StepStatus::Skipped,
                reason: Some(evil.into()),
                code: None,
                request_id: None,
                attempts: 0,
            },
            Record::Outcome {
                row: 2,
                user: evil.into(),
                step: evil.into(),
                status: StepStatus::Ok,
                reason: Some(evil.into()),
                code: None,
                request_id: None,
                attempts: 0,
            },
            outcome(3, "plain@x", "enable", StepStatus::WouldChange),
        ];
        let doc = junit_for(&records);
        let names = check_well_formed(&doc).unwrap_or_else(|e| panic!("{e}\n{doc}"));
        assert_eq!(names.iter().filter(|n| *n == "testcase").count(), 4);
        assert!(!doc.contains("<script>"));
        assert!(doc.contains("&lt;script&gt;&amp;&quot;&apos;&lt;/script&gt;"));
        assert!(!doc.contains('\u{1b}'));
    }

    #[test]
    fn the_checker_rejects_broken_documents() {
        let decl = r#"<?xml version="1.0" encoding="UTF-8"?>"#;
        for bad in [
            "<a><b></a></b>",
            "<a>x & y</a>",
            r#"<a n="<"/>"#,
            "<a>",
            "<a/><b/>",
            "<a>\u{1}</a>",
            "<a>&bogus;</a>",
        ] {
            assert!(check_well_formed(&format!("{decl}{bad}")).is_err(), "{bad}");
        }
        assert!(check_well_formed(&format!(r#"{decl}<a n="&lt;"><b/>t&amp;</a>"#)).is_ok());
    }
}
