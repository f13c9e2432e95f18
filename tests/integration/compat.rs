//! Files written by the previous release still work with this one: a plan
//! saved by remedy b9ea17e applies, and a run and an apply it left
//! interrupted (killed mid-write, with intents journaled and no outcome)
//! resume and finish without repeating what the journal records as done.
//! `remedy runs` and `remedy report` read those runs.
//!
//! The fixtures under `tests/corpus/compat/b9ea17e/` were written by the
//! b9ea17e binary against its built-in emulator; its README says how. The
//! tests copy them to a temporary directory and run the current binary
//! from the repository root (the paths in the files are relative to it)
//! with `--emulate`.
//!
//! What `--emulate` cannot show: its directory is seeded afresh from the
//! CSV by every process, so what the interrupted process changed is gone.
//! A step pending in the journal (intent, no outcome) is checked against
//! that fresh directory: an `ensure` step is read again and, the account
//! being as the CSV seeds it, done once more (one new intent); a one-shot
//! action is confirmed by reading the user back, and the fresh seed's
//! timestamps differ from the journaled ones, so it is taken as done and
//! not sent again. These tests therefore check that an old journal's
//! pending intents are found and reconciled (at most one new intent, one
//! outcome, never a second password), not what a real directory would
//! show; the kill tests in `run.rs` check resumes against one persistent
//! emulator. What is checked strictly: nothing the old journal records as
//! finished (a user's `user_done`, a step's outcome) is journaled, or
//! done, again, and every user and step ends with one outcome, as the
//! previous release itself finished the same files (`expected/`).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::support::{Run, remedy, root, run};

/// The fixtures, relative to the repository root.
const DIR: &str = "tests/corpus/compat/b9ea17e";
const STEPS: [&str; 3] = ["reset-password", "revoke-sessions", "allow-sign-in"];

fn fixture(name: &str) -> String {
    format!("{DIR}/{name}")
}

/// `remedy ARGS` from the repository root, with nothing from the
/// environment pointing it elsewhere.
fn remedy_with(args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.args(args)
        .env_remove("REMEDY_CRASH_AT")
        .env_remove("GITHUB_STEP_SUMMARY")
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("REMEDY_GRAPH_URL")
        .env_remove("REMEDY_AUTHORITY_URL")
        .timeout(Duration::from_secs(120));
    run(&mut cmd)
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("UTF-8 temporary path")
}

/// Copies the fixture state directory `name` to `dest`, with the modes
/// remedy gives what it creates (git keeps none): 0700 directories, 0600
/// journal and secrets.
fn copy_state(name: &str, dest: &Path) {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        set_mode(to, 0o700);
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            let (src, dst) = (e.path(), to.join(e.file_name()));
            if src.is_dir() {
                copy(&src, &dst);
            } else {
                std::fs::copy(&src, &dst).unwrap();
                let private = ["secrets.csv", "journal.jsonl"]
                    .iter()
                    .any(|n| e.file_name() == *n);
                set_mode(&dst, if private { 0o600 } else { 0o644 });
            }
        }
    }
    copy(&root().join(fixture(name)), dest);
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(not(unix))]
fn set_mode(_: &Path, _: u32) {}

/// The id and directory of the one run in `state`.
fn the_run(state: &Path) -> (String, PathBuf) {
    let runs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    let id = runs[0].file_name().unwrap().to_str().unwrap().to_owned();
    (id, runs[0].clone())
}

/// A journal: its complete lines (the text up to the last newline) and
/// their records. A torn last line (no newline) must not parse.
struct Journal {
    complete: String,
    records: Vec<Value>,
}

fn journal(path: &Path) -> Journal {
    let text = std::fs::read_to_string(path).unwrap();
    let end = text.rfind('\n').map_or(0, |i| i + 1);
    let (complete, torn) = text.split_at(end);
    assert!(
        torn.is_empty() || serde_json::from_str::<Value>(torn).is_err(),
        "a last line without a newline is torn: {torn}"
    );
    let records = complete
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    Journal {
        complete: complete.to_owned(),
        records,
    }
}

fn user_of(r: &Value) -> String {
    r["user"].as_str().unwrap().to_ascii_lowercase()
}

fn step_of(r: &Value) -> (String, String) {
    (user_of(r), r["step"].as_str().unwrap().to_owned())
}

fn of_type<'a>(records: &'a [Value], t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    records.iter().filter(move |r| r["type"] == t)
}

/// The users of the fixture CSV, lower-cased.
fn csv_users() -> Vec<String> {
    let mut r = csv::Reader::from_path(root().join(fixture("users.csv"))).unwrap();
    r.records()
        .map(|rec| rec.unwrap()[0].to_ascii_lowercase())
        .collect()
}

/// `results.csv` as (row, user, step) → (status, code); one line each.
fn outcomes(path: &Path) -> BTreeMap<(u64, String, String), (String, String)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let mut map = BTreeMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        let key = (
            rec[0].parse().unwrap(),
            rec[1].to_ascii_lowercase(),
            rec[2].to_owned(),
        );
        let value = (rec[3].to_owned(), rec[5].to_owned());
        assert!(
            map.insert(key.clone(), value).is_none(),
            "{}: two lines for {key:?}",
            path.display()
        );
    }
    map
}

/// Checks the current binary's results against how b9ea17e finished the
/// same fixture, and that nothing failed.
fn assert_results_match(run_dir: &Path, expected: &str) {
    let got = outcomes(&run_dir.join("results.csv"));
    let want = outcomes(&root().join(fixture(expected)));
    assert_eq!(
        got.len(),
        csv_users().len() * STEPS.len(),
        "one outcome per user and step"
    );
    assert!(
        got.values().all(|(status, _)| status != "failed"),
        "{got:#?}"
    );
    assert_eq!(got, want, "the outcomes b9ea17e reached ({expected})");
}

/// user → passwords in `secrets.csv`, in file order.
fn passwords(path: &Path) -> HashMap<String, Vec<String>> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for rec in r.records() {
        let rec = rec.unwrap();
        map.entry(rec[0].to_ascii_lowercase())
            .or_default()
            .push(rec[1].to_owned());
    }
    map
}

/// Compares a run directory of the fixture `name` before and after the
/// current binary resumed it: the old journal's complete lines are kept as
/// they were and only appended to; nothing it records as finished is
/// journaled again; each pending step gets at most one new intent and one
/// outcome; in the end every user and step has exactly one outcome and
/// every user one `user_done`; no saved password is replaced.
fn assert_resumed_without_repeats(name: &str, before: &Path, after: &Path) {
    let old = journal(&before.join("journal.jsonl"));
    let text = std::fs::read_to_string(after.join("journal.jsonl")).unwrap();
    assert!(
        text.starts_with(&old.complete),
        "{name}: the old journal's complete lines are kept as they were"
    );
    assert!(text.ends_with('\n'), "{name}: the torn line is gone");
    let new: Vec<Value> = text[old.complete.len()..]
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();

    let done: BTreeSet<String> = of_type(&old.records, "user_done").map(user_of).collect();
    let finished: BTreeSet<(String, String)> =
        of_type(&old.records, "outcome").map(step_of).collect();
    let pending: BTreeSet<(String, String)> = of_type(&old.records, "intent")
        .map(step_of)
        .filter(|k| !finished.contains(k))
        .collect();
    assert!(
        !done.is_empty() && !pending.is_empty(),
        "{name}: the fixture has users done and steps pending"
    );

    for r in new.iter().filter(|r| r.get("user").is_some()) {
        assert!(
            !done.contains(&user_of(r)),
            "{name}: a user the old journal records as done was touched again: {r}"
        );
        if r.get("step").is_some() {
            assert!(
                !finished.contains(&step_of(r)),
                "{name}: a step with an outcome in the old journal ran again: {r}"
            );
        }
    }
    for key in &pending {
        let count = |t| of_type(&new, t).filter(|r| step_of(r) == *key).count();
        assert!(
            count("intent") <= 1,
            "{name}: {key:?} was pending: at most one new intent"
        );
        assert_eq!(count("outcome"), 1, "{name}: {key:?} gets its outcome");
    }

    let all: Vec<Value> = old.records.iter().chain(&new).cloned().collect();
    for user in csv_users() {
        let ended: Vec<&Value> = of_type(&all, "user_done")
            .filter(|r| user_of(r) == user)
            .collect();
        assert_eq!(ended.len(), 1, "{name}: {user} ends once");
        assert_ne!(ended[0]["status"], "failed", "{name}: {user}");
        for step in STEPS {
            let n = of_type(&all, "outcome")
                .filter(|r| step_of(r) == (user.clone(), step.to_owned()))
                .count();
            assert_eq!(n, 1, "{name}: one outcome for {user} {step}");
        }
    }

    // secrets.csv: the old lines kept; a user's saved password is never
    // replaced by another (a pending reset reuses it).
    let old_secrets = std::fs::read_to_string(before.join("secrets.csv")).unwrap();
    let new_secrets = std::fs::read_to_string(after.join("secrets.csv")).unwrap();
    assert!(new_secrets.starts_with(&old_secrets), "{name}: secrets.csv");
    let saved = passwords(&before.join("secrets.csv"));
    for (user, list) in passwords(&after.join("secrets.csv")) {
        let first = saved.get(&user).map_or(&list[0], |l| &l[0]);
        assert!(
            list.iter().all(|p| p == first),
            "{name}: {user} got a second, different password"
        );
        assert!(
            saved.contains_key(&user) || !done.contains(&user),
            "{name}: {user}"
        );
    }
}

#[test]
fn a_plan_saved_by_b9ea17e_applies() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let plan = fixture("plan.json");
    let header: Value = serde_json::from_str(
        std::fs::read_to_string(root().join(&plan))
            .unwrap()
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["remedy_version"], "0.1.0");
    let r = remedy_with(&[
        "apply",
        &plan,
        "--emulate",
        "--yes",
        "--max-age",
        "36500d",
        "--progress",
        "none",
        "--state-dir",
        path_str(&state),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!(
            "applying plan {plan} (made {} by run {}): 19 changes for 10 users",
            header["created"].as_str().unwrap(),
            header["run_id"].as_str().unwrap()
        )),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("drifted"), "{}", r.stdout);

    let (_, run_dir) = the_run(&state);
    assert_results_match(&run_dir, "expected/apply-results.csv");
    let results = outcomes(&run_dir.join("results.csv"));
    let changed = |step: &str| {
        results
            .iter()
            .filter(|((_, _, s), (status, _))| s == step && status == "changed")
            .count()
    };
    assert_eq!(
        (
            changed("reset-password"),
            changed("revoke-sessions"),
            changed("allow-sign-in")
        ),
        (10, 5, 4),
        "the planned changes were made"
    );
    assert!(
        results.values().all(|(_, code)| code != "drifted"),
        "nothing drifted: {results:#?}"
    );
    // One generated password per planned reset.
    let saved = passwords(&run_dir.join("secrets.csv"));
    assert_eq!(saved.len(), 10);
    assert!(saved.values().all(|l| l.len() == 1));
}

#[test]
fn a_plan_saved_by_b9ea17e_is_still_bound_to_its_inputs_tenant_and_age() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(root().join(fixture("plan.json"))).unwrap();
    let header: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let field = |name: &str| {
        let value = header[name].as_str().unwrap().to_owned();
        format!("\"{name}\":\"{value}\"")
    };
    let other_hash = "0".repeat(64);
    let cases = [
        (
            field("playbook_sha256"),
            format!("\"playbook_sha256\":\"{other_hash}\""),
            "the playbook changed since the plan was made",
        ),
        (
            field("csv_sha256"),
            format!("\"csv_sha256\":\"{other_hash}\""),
            "the CSV changed since the plan was made",
        ),
        (
            field("tenant"),
            "\"tenant\":\"11111111-2222-4333-8444-555555555555\"".to_owned(),
            "the plan was made for tenant 11111111-2222-4333-8444-555555555555",
        ),
    ];
    for (i, (from, to, message)) in cases.iter().enumerate() {
        assert_eq!(text.matches(from.as_str()).count(), 1, "{from}");
        let altered = dir.path().join(format!("plan-{i}.json"));
        std::fs::write(&altered, text.replacen(from.as_str(), to, 1)).unwrap();
        let state = dir.path().join(format!("state-{i}"));
        let r = remedy_with(&[
            "apply",
            path_str(&altered),
            "--emulate",
            "--yes",
            "--max-age",
            "36500d",
            "--progress",
            "none",
            "--state-dir",
            path_str(&state),
        ]);
        assert_eq!(r.code, 3, "{to}\n{}\n{}", r.stdout, r.stderr);
        assert!(
            r.stderr.contains(message) && r.stderr.contains("nothing was changed"),
            "{}",
            r.stderr
        );
        assert!(
            !state.join("runs").exists()
                || std::fs::read_dir(state.join("runs")).unwrap().count() == 0,
            "a refused plan records no run"
        );
    }

    // The unaltered plan, too old for a tight --max-age.
    let r = remedy_with(&[
        "apply",
        &fixture("plan.json"),
        "--emulate",
        "--yes",
        "--max-age",
        "1s",
        "--progress",
        "none",
        "--state-dir",
        path_str(&dir.path().join("state-age")),
    ]);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("more than --max-age 1s allows"),
        "{}",
        r.stderr
    );
}

#[test]
fn a_run_interrupted_by_b9ea17e_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    copy_state("state", &state);
    let (id, run_dir) = the_run(&state);
    let before = root().join(fixture("state/runs")).join(&id);
    let done = of_type(&journal(&before.join("journal.jsonl")).records, "user_done").count();

    let r = remedy_with(&[
        "run",
        &fixture("remediate.yaml"),
        "--users",
        &fixture("users.csv"),
        "--resume",
        "--emulate",
        "--yes",
        "--progress",
        "none",
        "--state-dir",
        path_str(&state),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr
            .contains(&format!("resuming run {id} ({done} users already done)")),
        "{}",
        r.stderr
    );
    assert!(r.stderr.contains("torn last journal line"), "{}", r.stderr);
    assert_eq!(
        the_run(&state).0,
        id,
        "the old run was resumed, not a new one"
    );

    assert_resumed_without_repeats("state", &before, &run_dir);
    assert_results_match(&run_dir, "expected/resume-results.csv");

    let r = remedy_with(&["runs", "--format", "json", "--state-dir", path_str(&state)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runs: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["status"], "completed", "{runs}");
    assert_eq!(runs[0]["counts"]["done_earlier"], done, "{runs}");
}

#[test]
fn an_apply_interrupted_by_b9ea17e_resumes_with_its_plan() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    copy_state("apply-state", &state);
    let (id, run_dir) = the_run(&state);
    let before = root().join(fixture("apply-state/runs")).join(&id);

    // `remedy run --resume` refuses it: it applies a plan.
    let r = remedy_with(&[
        "run",
        &fixture("remediate.yaml"),
        "--users",
        &fixture("users.csv"),
        "--resume",
        "--emulate",
        "--yes",
        "--progress",
        "none",
        "--state-dir",
        path_str(&state),
    ]);
    assert_eq!(r.code, 2, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("run {id} applies a plan")),
        "{}",
        r.stderr
    );

    let r = remedy_with(&[
        "apply",
        &fixture("plan.json"),
        "--resume",
        "--emulate",
        "--yes",
        "--max-age",
        "36500d",
        "--progress",
        "none",
        "--state-dir",
        path_str(&state),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains(&format!("resuming run {id}")),
        "{}",
        r.stderr
    );
    assert!(!r.stdout.contains("drifted"), "{}", r.stdout);
    assert_eq!(the_run(&state).0, id);

    assert_resumed_without_repeats("apply-state", &before, &run_dir);
    assert_results_match(&run_dir, "expected/apply-resume-results.csv");
    // Interrupted and resumed, the apply did what an uninterrupted one did.
    assert_eq!(
        outcomes(&run_dir.join("results.csv")),
        outcomes(&root().join(fixture("expected/apply-results.csv")))
    );
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                found.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    found
}

#[test]
fn runs_and_report_read_runs_left_by_b9ea17e() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    copy_state("state", &state);
    let (id, _) = the_run(&state);
    let files = snapshot(&state);

    let r = remedy_with(&["runs", "--state-dir", path_str(&state)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let line = r
        .stdout
        .lines()
        .find(|l| l.starts_with(&id))
        .unwrap_or_else(|| panic!("{id} is listed:\n{}", r.stdout));
    assert!(
        line.contains("abandoned") && line.contains(&fixture("remediate.yaml")),
        "{line}"
    );

    let r = remedy_with(&["runs", "--format", "json", "--state-dir", path_str(&state)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let runs: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(runs.as_array().unwrap().len(), 1, "{runs}");
    assert_eq!(runs[0]["id"], id.as_str());
    assert_eq!(runs[0]["emulated"], true);
    assert_eq!(runs[0]["csv"], fixture("users.csv"));
    assert_eq!(runs[0]["counts"]["users"], 12);

    // The report is rebuilt from the old journal (its torn line ignored):
    // 7 users done, and Miriam's two outcomes.
    let r = remedy_with(&["report", "--state-dir", path_str(&state)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    for expected in [
        format!("**Run id:** {id}"),
        "**Users:** 7 finished, 0 failed".to_owned(),
        "| reset-password: Reset the user's password | 0 | 8 | 0 | 0 |".to_owned(),
        "| revoke-sessions: Sign the user out everywhere | 0 | 4 | 0 | 4 |".to_owned(),
        "| allow-sign-in: Make sure the user is allowed to sign in | 5 | 2 | 0 | 0 |".to_owned(),
    ] {
        assert!(r.stdout.contains(&expected), "{expected}\n{}", r.stdout);
    }
    let r = remedy_with(&[
        "report",
        &id,
        "--format",
        "text",
        "--state-dir",
        path_str(&state),
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("reset-password"), "{}", r.stdout);

    // The interrupted apply is listed and reported too.
    let apply_state = dir.path().join("apply-state");
    copy_state("apply-state", &apply_state);
    let (apply_id, _) = the_run(&apply_state);
    let r = remedy_with(&["runs", "--state-dir", path_str(&apply_state)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&apply_id), "{}", r.stdout);
    let r = remedy_with(&["report", "--state-dir", path_str(&apply_state)]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stdout.contains(&apply_id), "{}", r.stdout);

    assert!(
        snapshot(&state) == files,
        "reading an old run changes nothing in it"
    );
}
