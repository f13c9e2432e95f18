//! Hostile playbooks: alias bombs, a 100 MB line, deep nesting. `validate`
//! reports a positioned error (exit 1) and `run --emulate` refuses before
//! doing anything (exit 2), quickly and in little memory.

use std::path::Path;

use super::{Measured, measure, remedy_cmd};
use crate::support::root;

const HEAD: &str = "api_version: remedy/v1
name: hostile
target:
  provider: graph
input:
  key: userPrincipalName
";

const STEPS: &str = "steps:
  - id: allow
    ensure: sign_in_allowed
";

/// Nine levels of anchors, each a list of ten aliases to the one before:
/// 10^9 strings if anything expanded it.
fn billion_laughs(indent: &str) -> String {
    let mut s = format!("{indent}- &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..=9 {
        let prev = level - 1;
        let refs = vec![format!("*l{prev}"); 10].join(", ");
        s.push_str(&format!("{indent}- &l{level} [{refs}]\n"));
    }
    s
}

fn validate(dir: &Path, file: &str) -> Measured {
    measure(&mut remedy_cmd(dir, &["validate", file]))
}

fn run_emulated(dir: &Path, file: &str) -> Measured {
    let users = root().join("examples/users.csv");
    measure(&mut remedy_cmd(
        dir,
        &[
            "run",
            file,
            "--users",
            users.to_str().unwrap(),
            "--emulate",
            "--yes",
            "--state-dir",
            "state",
        ],
    ))
}

/// Both commands refuse `text` with `code`, on `line` when given.
fn assert_refused(text: &[u8], code: &str, line: Option<u64>) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), text).unwrap();
    let v = validate(dir.path(), "p.yaml");
    v.assert_bounded(1, 30, 256);
    assert!(v.stderr.contains(code), "{}", v.stderr);
    if let Some(line) = line {
        assert!(
            v.stderr.contains(&format!("p.yaml:{line}:")),
            "{}",
            v.stderr
        );
    }
    let r = run_emulated(dir.path(), "p.yaml");
    r.assert_bounded(2, 30, 256);
    assert!(r.stderr.contains(code), "{}", r.stderr);
    assert!(!dir.path().join("state").exists(), "nothing was started");
}

#[test]
fn billion_laughs_is_refused_unexpanded() {
    // Lists of lists cannot be any playbook field, so the first nested list
    // is refused before any alias is expanded.
    let text = format!("{HEAD}  columns:\n{}{STEPS}", billion_laughs("    "));
    assert_refused(text.as_bytes(), "playbook::invalid-type", Some(8));
    let text = format!("{HEAD}{STEPS}x:\n{}", billion_laughs("  "));
    assert_refused(text.as_bytes(), "playbook::unknown-field", Some(10));
}

#[test]
fn alias_bombs_of_strings_hit_the_parser_budgets() {
    // Flat lists of aliases to one string are well typed, so only the
    // parser's budgets stop them: too many aliases, or too many bytes once
    // expanded (300 KB × 300 = 90 MB of user names).
    let users = |n: usize| vec!["*a"; n].join(", ");
    for (anchor, n, message) in [
        ("a@contoso.com".to_owned(), 100_000, "too many aliases"),
        (
            "x".repeat(300_000),
            300,
            "too much text once aliases are expanded",
        ),
    ] {
        let text = format!(
            "{HEAD}{STEPS}description: &a {anchor}\nguards:\n  protect:\n    users: [{}]\n",
            users(n)
        );
        assert_refused(text.as_bytes(), "playbook::too-complex", Some(13));
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("p.yaml"), &text).unwrap();
        let v = validate(dir.path(), "p.yaml");
        assert!(v.stderr.contains(message), "{}", v.stderr);
    }
}

#[test]
fn alias_before_its_anchor() {
    let text = format!("{HEAD}{STEPS}description: *later\nguards: &later {{}}\n");
    assert_refused(text.as_bytes(), "playbook::yaml-syntax", Some(10));
}

#[test]
fn one_line_of_100_mb_is_refused_unread() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.yaml");
    let mut text = Vec::with_capacity(100 * 1024 * 1024);
    text.extend_from_slice(b"name: ");
    text.resize(100 * 1024 * 1024, b'a');
    std::fs::write(&path, &text).unwrap();
    drop(text);
    // Refused by its size before it is read: far less memory than the file.
    let v = validate(dir.path(), "p.yaml");
    v.assert_bounded(1, 30, 64);
    let r = run_emulated(dir.path(), "p.yaml");
    r.assert_bounded(2, 30, 64);
    for m in [v, r] {
        assert!(m.stderr.contains("playbook::too-large"), "{}", m.stderr);
        assert!(
            m.stderr.contains("the limit is 1048576 bytes"),
            "{}",
            m.stderr
        );
    }
}

#[test]
fn one_line_just_under_the_size_limit_is_read() {
    let mut text = format!("{HEAD}{STEPS}description: ").into_bytes();
    text.resize(1024 * 1024 - 1, b'x');
    text.push(b'\n');
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), &text).unwrap();
    validate(dir.path(), "p.yaml").assert_bounded(0, 30, 256);
}

#[test]
fn deep_nesting_is_refused() {
    let n = 100_000;
    for (text, line) in [
        (
            format!("{HEAD}steps: {}{}\n", "[".repeat(n), "]".repeat(n)),
            7,
        ),
        (format!("{HEAD}steps: {}\n", "[".repeat(n)), 7),
        (format!("{HEAD}steps:\n  - {}x: 1\n", "{a: ".repeat(n)), 8),
    ] {
        assert_refused(text.as_bytes(), "playbook::", Some(line));
    }
    let text = format!("{HEAD}steps: {}{}\n", "[".repeat(n), "]".repeat(n));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.yaml"), &text).unwrap();
    let v = validate(dir.path(), "p.yaml");
    assert!(v.stderr.contains("playbook::too-complex"), "{}", v.stderr);
}
