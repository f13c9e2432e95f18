//! The remedy process and its connections: no core file and not dumpable
//! while a run holds secrets, and loopback roots (the emulator) reached
//! directly, never through `HTTP_PROXY`, `HTTPS_PROXY` or `ALL_PROXY`.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::support::{EmulatorProcess, remedy, run};

fn users_csv(dir: &Path, n: usize) -> std::path::PathBuf {
    let mut text = String::from("userPrincipalName,displayName\n");
    for i in 1..=n {
        text.push_str(&format!("user{i:05}@contoso.onmicrosoft.com,User {i}\n"));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `(soft, hard)` "Max core file size" of `/proc/<pid>/limits`.
fn core_limit(limits: &str) -> (String, String) {
    let line = limits
        .lines()
        .find_map(|l| l.strip_prefix("Max core file size"))
        .unwrap_or_else(|| panic!("no core line in {limits}"));
    let mut fields = line.split_whitespace();
    (
        fields.next().unwrap().to_owned(),
        fields.next().unwrap().to_owned(),
    )
}

/// `remedy run` against a slow emulator, read from outside while it runs:
/// `/proc/<pid>/limits` says core files are off (soft and hard 0), and the
/// process's `/proc` files belong to root although it runs as another user,
/// which the kernel does only for a non-dumpable process. As root (CI) the
/// run is started as `nobody` so that the last check means something; as
/// a normal user it runs as that user. The manifest names the user the
/// process runs as, not root (it was once read from `/proc/self`).
#[test]
fn a_running_remedy_has_core_files_off_and_is_not_dumpable() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path();
    std::fs::set_permissions(work, std::fs::Permissions::from_mode(0o755)).unwrap();
    let csv = users_csv(work, 10);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "100"]);
    // Everything the run needs, where `nobody` can reach it (the checkout
    // may sit in a directory only its owner can enter).
    let bin = work.join("remedy");
    std::fs::copy(env!("CARGO_BIN_EXE_remedy"), &bin).unwrap();
    let playbook = work.join("unlock-account.yaml");
    std::fs::copy(
        crate::support::root().join("workflows/unlock-account.yaml"),
        &playbook,
    )
    .unwrap();
    let home = work.join("home");
    std::fs::create_dir(&home).unwrap();
    let as_root = std::fs::metadata("/proc/self").unwrap().uid() == 0;
    if as_root {
        std::os::unix::fs::chown(&home, Some(65534), Some(65534)).unwrap();
    }
    let state = home.join("state");
    let mut cmd = std::process::Command::new(&bin);
    cmd.arg("run")
        .arg(&playbook)
        .arg("--users")
        .arg(&csv)
        .args([
            "--yes",
            "--progress",
            "none",
            "--concurrency",
            "1",
            "--state-dir",
        ])
        .arg(&state)
        .envs(emu.client_env("process-tests", "process-test-secret"))
        .env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME")
        .env_remove("REMEDY_CRASH_AT")
        .current_dir(&home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    if as_root {
        use std::os::unix::process::CommandExt;
        cmd.uid(65534).gid(65534);
    }
    let mut child = cmd.spawn().unwrap();
    let proc_dir = format!("/proc/{}", child.id());
    // Once the journal exists the run is under way (and long past `main`).
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while crate::support::saved_passwords(&state) == 0 {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended before it was looked at"
        );
        assert!(
            std::time::Instant::now() < deadline,
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let limits = std::fs::read_to_string(format!("{proc_dir}/limits")).unwrap();
    let status = std::fs::read_to_string(format!("{proc_dir}/status")).unwrap();
    let owner = std::fs::metadata(format!("{proc_dir}/status"))
        .unwrap()
        .uid();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    assert_eq!(
        core_limit(&limits),
        ("0".to_owned(), "0".to_owned()),
        "{limits}"
    );
    let uid: u32 = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no Uid in {status}"));
    assert_ne!(uid, 0, "the run must not be root for this check");
    assert_eq!(owner, 0, "a dumpable process owns its /proc files");

    let runs: Vec<_> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(runs[0].join("manifest.json")).unwrap()).unwrap();
    let user = manifest["operator"]["os_user"].as_str().unwrap_or_default();
    assert!(!user.is_empty() && user != "root", "{manifest}");
}

/// A socket that counts the connections made to it and closes each at
/// once; its thread ends with the test process.
fn counting_listener() -> (String, Arc<AtomicU64>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(AtomicU64::new(0));
    let count = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            count.fetch_add(1, Ordering::SeqCst);
            drop(conn);
        }
    });
    (format!("http://{addr}"), seen)
}

/// Every proxy variable, both spellings, pointing at `proxy`; no
/// `NO_PROXY` that would exempt loopback by itself.
fn through_proxy(cmd: &mut assert_cmd::Command, proxy: &str) {
    for var in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        cmd.env(var, proxy);
    }
    cmd.env_remove("NO_PROXY").env_remove("no_proxy");
}

/// With every proxy variable set, a run and `doctor` against the emulator
/// on 127.0.0.1 (Graph and the token endpoint, which gets the client
/// secret) and a `--emulate` run connect directly: the proxy sees no
/// connection and everything succeeds.
#[test]
fn loopback_roots_never_go_through_a_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 5);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let (proxy, seen) = counting_listener();

    let mut cmd = remedy();
    cmd.arg("run")
        .arg("workflows/unlock-account.yaml")
        .arg("--users")
        .arg(&csv)
        .args(["--yes", "--progress", "none", "--state-dir"])
        .arg(dir.path().join("state"))
        .envs(emu.client_env("proxy-tests", "proxy-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    through_proxy(&mut cmd, &proxy);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(emu.get_json("/_stats")["resets"], 5);

    let mut cmd = remedy();
    cmd.args(["doctor", "--user", "user00001@contoso.onmicrosoft.com"])
        .envs(emu.client_env("proxy-tests", "proxy-test-secret"))
        .env_remove("AZURE_ACCESS_TOKEN")
        .timeout(Duration::from_secs(60));
    through_proxy(&mut cmd, &proxy);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);

    let mut cmd = remedy();
    cmd.arg("run")
        .arg("workflows/unlock-account.yaml")
        .arg("--users")
        .arg(&csv)
        .args(["--emulate", "--yes", "--progress", "none", "--state-dir"])
        .arg(dir.path().join("emulated"))
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    through_proxy(&mut cmd, &proxy);
    let r = run(&mut cmd);
    assert_eq!(r.code, 0, "{}", r.stderr);

    assert_eq!(seen.load(Ordering::SeqCst), 0, "the proxy was used");
}
