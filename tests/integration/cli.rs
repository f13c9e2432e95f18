//! The command line itself: help, version, exit codes, and the shipped
//! workflows and examples.

use crate::support::{remedy, run};

#[test]
fn shipped_workflows_validate() {
    let r = run(remedy().args(["validate", "workflows/"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("checked 4 playbooks"), "{}", r.stderr);
    assert!(r.stderr.contains("0 errors, 0 warnings"), "{}", r.stderr);
}

#[test]
fn example_csvs_validate_against_unlock_account() {
    for csv in [
        "examples/users.csv",
        "examples/entra-export.csv",
        "examples/bulk-template.csv",
    ] {
        let r = run(remedy().args(["validate", "workflows/unlock-account.yaml", "--users", csv]));
        assert_eq!(r.code, 0, "{csv}: {}", r.stderr);
        assert!(r.stderr.contains(" 0 errors"), "{csv}: {}", r.stderr);
    }
}

#[test]
fn bulk_template_example_row_is_reported_not_silently_skipped() {
    let r = run(remedy().args([
        "validate",
        "workflows/unlock-account.yaml",
        "--users",
        "examples/bulk-template.csv",
    ]));
    assert!(
        r.stderr.contains("csv::example-row-skipped"),
        "{}",
        r.stderr
    );
    let r = run(remedy().args([
        "validate",
        "--deny-warnings",
        "workflows/unlock-account.yaml",
        "--users",
        "examples/bulk-template.csv",
    ]));
    assert_eq!(r.code, 1);
}

#[test]
fn every_file_is_reported_not_just_the_first() {
    let r = run(remedy().args([
        "validate",
        "--format",
        "json",
        "tests/corpus/playbooks/err/unknown-action-typo.yaml",
        "tests/corpus/playbooks/err/duplicate-step-id.yaml",
        "workflows/unlock-account.yaml",
    ]));
    assert_eq!(r.code, 1);
    let files: Vec<String> = r
        .stdout
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["file"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(files.len(), 2, "{}", r.stdout);
    assert!(files[0].ends_with("unknown-action-typo.yaml"));
    assert!(files[1].ends_with("duplicate-step-id.yaml"));
}

#[test]
fn unreadable_file_exits_2_and_others_are_still_checked() {
    let r = run(remedy().args([
        "validate",
        "--format",
        "json",
        "no/such/playbook.yaml",
        "tests/corpus/playbooks/err/unknown-action-typo.yaml",
    ]));
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout.lines().count(), 2, "{}", r.stdout);
    assert!(r.stdout.contains("playbook::unreadable"));
    assert!(r.stdout.contains("playbook::unknown-action"));
}

#[test]
fn unreadable_csv_exits_2() {
    let r = run(remedy().args([
        "validate",
        "workflows/unlock-account.yaml",
        "--users",
        "no/such.csv",
    ]));
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("csv::unreadable"), "{}", r.stderr);
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(run(remedy().arg("validate")).code, 2);
    assert_eq!(
        run(remedy().args(["validate", "--format", "xml", "x.yaml"])).code,
        2
    );
    assert_eq!(run(remedy().arg("frobnicate")).code, 2);
}

#[test]
fn help_and_version() {
    let r = run(remedy().arg("--version"));
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout.trim(),
        format!("remedy {}", env!("CARGO_PKG_VERSION"))
    );
    for sub in ["validate", "schema"] {
        let r = run(remedy().args([sub, "--help"]));
        assert_eq!(r.code, 0);
        assert!(
            r.stdout.contains("Examples:"),
            "{sub} --help has no examples:\n{}",
            r.stdout
        );
    }
}

#[test]
fn csv_larger_than_max_users_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = tmp.path().join("many.csv");
    let mut text = String::from("userPrincipalName,displayName\n");
    for i in 0..5001 {
        text.push_str(&format!("user{i}@contoso.onmicrosoft.com,User {i}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let r = run(remedy()
        .args(["validate", "workflows/unlock-account.yaml", "--users"])
        .arg(&csv));
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("5001 users exceed `guards.max_users` (5000)"),
        "{}",
        r.stderr
    );
}
