//! The malformed-input corpus: every file under `tests/corpus/*/err/` must
//! be rejected with exit 1 and exactly the diagnostic in its snapshot; every
//! file under `ok/` must pass silently. A change in wording is therefore a
//! reviewed change (`cargo insta review`).

use std::path::Path;

use crate::support::{files, remedy_in, root, run};

fn corpus(kind: &str) -> std::path::PathBuf {
    root().join("tests/corpus").join(kind)
}

/// Human output of `remedy validate` for one corpus file.
fn validate_human(dir: &Path, args: &[&str]) -> (i32, String) {
    let r = run(remedy_in(dir).arg("validate").args(args));
    (
        r.code,
        format!("exit: {}\n{}{}", r.code, r.stdout, r.stderr),
    )
}

#[test]
fn malformed_playbooks_are_rejected_with_their_diagnostic() {
    let dir = corpus("playbooks/err");
    let cases = files(&dir, &["yaml", "yml"]);
    assert!(cases.len() >= 40, "corpus has {} playbooks", cases.len());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/corpus/playbooks/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for case in cases {
            let name = case.file_name().unwrap().to_str().unwrap();
            let (code, out) = validate_human(&dir, &[name]);
            assert_eq!(code, 1, "{name} must exit 1:\n{out}");
            assert!(!out.contains("panicked"), "{name}:\n{out}");
            insta::assert_snapshot!(name.to_owned(), out);
        }
    });
}

#[test]
fn huge_playbook_is_refused_before_parsing() {
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("huge.yaml");
    let mut text = String::from("api_version: remedy/v1\ndescription: |\n");
    while text.len() <= 1024 * 1024 {
        text.push_str("  padding padding padding padding padding padding padding padding\n");
    }
    std::fs::write(&big, text).unwrap();
    let (code, out) = validate_human(tmp.path(), &["huge.yaml"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("playbook::too-large"), "{out}");
}

#[test]
fn valid_playbooks_are_silent() {
    let dir = corpus("playbooks/ok");
    for case in files(&dir, &["yaml"]) {
        let name = case.file_name().unwrap().to_str().unwrap();
        let (code, out) = validate_human(&dir, &[name]);
        assert_eq!(code, 0, "{name}:\n{out}");
        assert!(out.contains("0 errors, 0 warnings"), "{name}:\n{out}");
    }
}

#[test]
fn malformed_csvs_are_rejected_with_their_diagnostic() {
    let dir = corpus("csv/err");
    let playbook = corpus("csv/playbook.yaml");
    let cases = files(&dir, &["csv"]);
    assert!(cases.len() >= 15, "corpus has {} CSVs", cases.len());
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/corpus/csv/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| {
        for case in cases {
            let name = case.file_name().unwrap().to_str().unwrap();
            let (code, out) = validate_human(&dir, &[playbook.to_str().unwrap(), "--users", name]);
            let out = out.replace(playbook.to_str().unwrap(), "playbook.yaml");
            assert_eq!(code, 1, "{name} must exit 1:\n{out}");
            insta::assert_snapshot!(name.to_owned(), out);
        }
    });
}

#[test]
fn valid_csvs_pass() {
    let dir = corpus("csv/ok");
    let playbook = corpus("csv/playbook.yaml");
    for case in files(&dir, &["csv"]) {
        let name = case.file_name().unwrap().to_str().unwrap();
        let (code, out) = validate_human(&dir, &[playbook.to_str().unwrap(), "--users", name]);
        assert_eq!(code, 0, "{name}:\n{out}");
        assert!(out.contains(" 0 errors"), "{name}:\n{out}");
    }
}
