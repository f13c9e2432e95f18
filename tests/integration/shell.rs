//! The command line around the work: completion scripts, man pages, help
//! with examples, colour choices, `-q`, and JSON logs that never carry a
//! secret.

use std::path::Path;
use std::time::Duration;

use crate::shard::users_csv;
use crate::support::{EmulatorProcess, Run, remedy, run};

#[test]
fn completions_for_every_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish", "powershell"] {
        let r = run(remedy().args(["completions", shell]));
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.len() > 1000, "{shell}: {}", r.stdout);
        for sub in [
            "run", "validate", "doctor", "emulator", "runs", "report", "man",
        ] {
            assert!(r.stdout.contains(sub), "{shell} completion lacks {sub}");
        }
        // Fish spells long flags `-l shard`; the others `--shard`.
        assert!(
            r.stdout.contains("--shard") || r.stdout.contains("-l shard"),
            "{shell} completion lacks run's flags"
        );
    }
    assert_eq!(run(remedy().args(["completions", "tcsh"])).code, 2);
}

#[test]
fn man_pages_are_roff() {
    let r = run(remedy().arg("man"));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with(".TH remedy 1"), "{}", r.stdout);
    assert!(r.stdout.contains(".SH SUBCOMMANDS"), "{}", r.stdout);
    let r = run(remedy().args(["man", "run"]));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.starts_with(".TH remedy-run 1"), "{}", r.stdout);
    assert!(
        r.stdout.contains("Examples:"),
        "the EXAMPLES text is in the page"
    );
    let r = run(remedy().args(["man", "frobnicate"]));
    assert_eq!(r.code, 2, "{}", r.stderr);
}

#[test]
fn main_subcommands_show_examples_in_one_style() {
    for sub in [
        None,
        Some("run"),
        Some("validate"),
        Some("doctor"),
        Some("emulator"),
        Some("schema"),
        Some("runs"),
        Some("report"),
        Some("completions"),
        Some("man"),
    ] {
        let mut cmd = remedy();
        cmd.args(sub).arg("--help");
        let r = run(&mut cmd);
        assert_eq!(r.code, 0, "{sub:?}: {}", r.stderr);
        let examples = r
            .stdout
            .split_once("\nExamples:\n")
            .unwrap_or_else(|| panic!("{sub:?} --help has no Examples section:\n{}", r.stdout))
            .1;
        let first = examples.lines().next().unwrap_or_default();
        assert!(
            first.starts_with("  remedy ") || first.starts_with("  export "),
            "{sub:?}: examples start with an indented command: {first}"
        );
    }
}

#[test]
fn color_always_colours_diagnostics_and_never_or_no_color_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "api_version: remedy/v2\nname: x\n").unwrap();
    let validate = |color: Option<&str>, no_color: bool| {
        let mut cmd = remedy();
        cmd.arg("validate").arg(&bad).env_remove("NO_COLOR");
        if let Some(c) = color {
            cmd.args(["--color", c]);
        }
        if no_color {
            cmd.env("NO_COLOR", "1");
        }
        run(&mut cmd).stderr
    };
    assert!(validate(Some("always"), false).contains('\u{1b}'));
    assert!(
        validate(Some("always"), true).contains('\u{1b}'),
        "an explicit choice wins"
    );
    assert!(!validate(Some("never"), false).contains('\u{1b}'));
    // Not a terminal: `auto` does not colour, with or without NO_COLOR.
    assert!(!validate(None, false).contains('\u{1b}'));
    assert!(!validate(None, true).contains('\u{1b}'));
}

/// `remedy GLOBAL… run incident-response` against `emu`, non-interactive.
fn logged_run(emu: &EmulatorProcess, csv: &Path, state: &Path, global: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.args(global)
        .args(["run", "workflows/incident-response.yaml", "--users"])
        .arg(csv)
        .args(["--yes", "--state-dir"])
        .arg(state)
        .envs(emu.client_env("log-tests", SECRET))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    run(&mut cmd)
}

const SECRET: &str = "log-test-client-secret-7c1e9a";

/// Passwords of the only run in `state`.
fn passwords(state: &Path) -> Vec<String> {
    let run_dir = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut r = csv::Reader::from_path(run_dir.join("secrets.csv")).unwrap();
    r.records().map(|rec| rec.unwrap()[1].to_owned()).collect()
}

#[test]
fn json_logs_parse_and_never_hold_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 60);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    for (i, verbosity) in ["-v", "-vvv"].into_iter().enumerate() {
        let state = dir.path().join(format!("state-{i}"));
        let r = logged_run(&emu, &csv, &state, &["--log-format", "json", verbosity]);
        assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
        let mut messages = Vec::new();
        for line in r.stderr.lines().filter(|l| l.starts_with('{')) {
            let v: serde_json::Value =
                serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(
                v["level"].is_string() && v["timestamp"].is_string(),
                "{line}"
            );
            messages.push(v["message"].as_str().unwrap_or_default().to_owned());
        }
        for expected in [
            "inputs validated",
            "connected",
            "run started",
            "run finished",
        ] {
            assert!(
                messages.iter().any(|m| m == expected),
                "{verbosity}: no `{expected}` log in {messages:?}"
            );
        }
        if verbosity == "-vvv" {
            // 60 users in `$batch` calls of up to 20 (reads, then writes).
            assert!(
                messages.iter().filter(|m| *m == "graph call").count() >= 3,
                "-vvv logs every Graph call: {messages:?}"
            );
        }
        let saved = passwords(&state);
        assert_eq!(saved.len(), 60);
        let all = format!("{}{}", r.stdout, r.stderr);
        assert_eq!(all.matches(SECRET).count(), 0, "the client secret leaked");
        for pw in &saved {
            assert!(!all.contains(pw.as_str()), "a generated password leaked");
        }
        assert!(!all.contains("Bearer "), "a token leaked");
    }
}

#[test]
fn quiet_hides_progress_and_conflicts_with_verbose() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 20);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let loud = logged_run(&emu, &csv, &dir.path().join("a"), &[]);
    assert_eq!(loud.code, 0, "{}", loud.stderr);
    assert!(loud.stderr.contains("progress: "), "{}", loud.stderr);
    let quiet = logged_run(&emu, &csv, &dir.path().join("b"), &["-q"]);
    assert_eq!(quiet.code, 0, "{}", quiet.stderr);
    assert!(!quiet.stderr.contains("progress: "), "{}", quiet.stderr);
    assert!(
        quiet.stdout.contains("Reset the user's password"),
        "results stay on stdout"
    );
    assert_eq!(run(remedy().args(["-q", "-v", "runs"])).code, 2);
}
