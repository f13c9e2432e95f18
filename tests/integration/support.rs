//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::Command;

/// The repository root (where Cargo.toml is).
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `remedy` with colour off and run from `dir`, so paths in output are
/// relative and stable.
pub fn remedy_in(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG");
    cmd
}

/// `remedy` run from the repository root.
pub fn remedy() -> Command {
    remedy_in(&root())
}

/// Exit code, stdout and stderr of a finished command.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub fn run(cmd: &mut Command) -> Run {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("remedy runs");
    Run {
        code: status.code().expect("exited, not killed"),
        stdout: String::from_utf8(stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(stderr).expect("stderr is UTF-8"),
    }
}

/// Files in `dir` with one of `exts`, sorted by name.
pub fn files(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| exts.contains(&e))
        })
        .collect();
    v.sort();
    v
}

/// A `remedy emulator` process on 127.0.0.1, killed when dropped.
pub struct EmulatorProcess {
    child: std::process::Child,
    pub url: String,
}

impl EmulatorProcess {
    /// The environment that points remedy at this emulator with a client
    /// secret credential for `client_id` (pass to `Command::envs`).
    pub fn client_env(&self, client_id: &str, secret: &str) -> [(&'static str, String); 5] {
        [
            ("AZURE_TENANT_ID", "contoso.onmicrosoft.com".to_owned()),
            ("AZURE_CLIENT_ID", client_id.to_owned()),
            ("AZURE_CLIENT_SECRET", secret.to_owned()),
            ("REMEDY_GRAPH_URL", self.url.clone()),
            ("REMEDY_AUTHORITY_URL", self.url.clone()),
        ]
    }

    /// Starts `remedy emulator --listen 127.0.0.1:0 ARGS` and waits for its
    /// `listening on` line (at most 20 s).
    pub fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_remedy"));
        cmd.args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("emulator starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = std::io::BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the emulator never blocks on a full pipe.
            for _ in lines {}
        });
        let line = match rx.recv_timeout(std::time::Duration::from_secs(20)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("the emulator did not print its address within 20 s");
            }
        };
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .trim()
            .to_owned();
        assert!(
            url.starts_with("http://127.0.0.1:") || url.starts_with("https://127.0.0.1:"),
            "{url}"
        );
        EmulatorProcess { child, url }
    }

    /// `GET /_stats` or `/_users` as JSON. Blocking; safe to call from
    /// async tests too (it runs on its own thread).
    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let body = http_get(&format!("{}{path}", self.url));
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking GET on its own thread and runtime, bounded to 10 s.
pub fn http_get(url: &str) -> String {
    let url = url.to_owned();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let client = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .expect("client");
            client
                .get(&url)
                .send()
                .await
                .expect("emulator answers")
                .text()
                .await
                .expect("body")
        })
    })
    .join()
    .expect("request thread")
}

/// `remedy run ARGS --yes --progress counter --state-dir STATE` against
/// `emu`, as app `client`, bounded to 240 s.
pub fn remedy_run_as(emu: &EmulatorProcess, client: &str, state: &Path, args: &[&str]) -> Run {
    let mut cmd = remedy();
    cmd.arg("run")
        .args(args)
        .args(["--yes", "--progress", "counter", "--state-dir"])
        .arg(state)
        .envs(emu.client_env(client, &format!("{client}-secret")))
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(std::time::Duration::from_secs(240));
    run(&mut cmd)
}

/// The emulator's users by lower-cased UPN (`/_users`).
pub fn emulator_users(
    emu: &EmulatorProcess,
) -> std::collections::HashMap<String, serde_json::Value> {
    emu.get_json("/_users")
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["userPrincipalName"].as_str().unwrap().to_lowercase(),
                u.clone(),
            )
        })
        .collect()
}

/// The password lines of the `secrets.csv` of the newest run under
/// `state` (0 until there is one).
pub fn saved_passwords(state: &Path) -> usize {
    let Ok(dirs) = std::fs::read_dir(state.join("runs")) else {
        return 0;
    };
    let mut dirs: Vec<PathBuf> = dirs.filter_map(|e| e.ok().map(|e| e.path())).collect();
    dirs.sort();
    dirs.pop()
        .and_then(|d| std::fs::read_to_string(d.join("secrets.csv")).ok())
        .map_or(0, |t| t.lines().count().saturating_sub(1))
}

/// Spawns `cmd` and kills it (SIGKILL: no handler runs) as soon as
/// `ready()` holds, polled every 10 ms for at most 60 s. Panics if the
/// process ended first or `ready()` never held, so the caller knows it has
/// an interrupted run.
pub fn kill_when(cmd: &mut std::process::Command, ready: impl Fn() -> bool) {
    let mut child = cmd.spawn().expect("remedy starts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !ready() {
        if let Some(status) = child.try_wait().expect("wait") {
            panic!("the run ended ({status}) before it could be killed mid-way");
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the run never reached the point where it is killed");
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().expect("kill");
    let status = child.wait().expect("wait");
    assert!(!status.success(), "killed mid-run: {status}");
}

/// `read()` once two reads 200 ms apart agree (at most 10 s): what the
/// emulator shows after a killed run's last request in flight landed.
pub fn settled<T: PartialEq + std::fmt::Debug>(read: impl Fn() -> T) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut last = read();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(200));
        let now = read();
        if now == last {
            return now;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "still changing: {now:?}"
        );
        last = now;
    }
}
