//! Hostile input, end to end: playbooks, CSVs and Graph answers built to
//! exhaust time or memory or to smuggle formulas, each fed to the real
//! binary, which must answer with a clear error (or a safe result) within
//! bounded time and memory, and never panic. See docs/fuzzing.md.

mod csv;
mod graph;
mod playbook;
mod proxy;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The outcome of a [`measure`]d process.
pub struct Measured {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
    /// Peak resident memory (`VmHWM`) as last sampled, in MiB.
    pub peak_rss_mib: u64,
}

impl Measured {
    /// The exit code is `code`, nothing panicked, and the process stayed
    /// within `seconds` and `mib` of memory.
    #[track_caller]
    pub fn assert_bounded(&self, code: i32, seconds: u64, mib: u64) {
        assert!(
            !self.stderr.contains("panicked") && !self.stdout.contains("panicked"),
            "panic:\n{}",
            self.stderr
        );
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(
            self.elapsed < Duration::from_secs(seconds),
            "took {:?}",
            self.elapsed
        );
        assert!(
            self.peak_rss_mib < mib,
            "peak RSS {} MiB (bound {mib} MiB)",
            self.peak_rss_mib
        );
    }
}

/// `remedy ARGS` run from `dir`, colour off, no Graph configuration from
/// the environment.
pub fn remedy_cmd(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_remedy"));
    cmd.args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .env_remove("AZURE_TENANT_ID")
        .env_remove("AZURE_CLIENT_ID")
        .env_remove("AZURE_CLIENT_SECRET")
        .env_remove("AZURE_CLIENT_CERTIFICATE_PATH")
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("AZURE_AUTHORITY_HOST")
        .env_remove("REMEDY_GRAPH_URL")
        .env_remove("REMEDY_AUTHORITY_URL")
        .env_remove("GITHUB_STEP_SUMMARY");
    cmd
}

/// Runs `cmd` to completion, sampling its peak memory; kills it and fails
/// the test if it runs longer than 60 s.
pub fn measure(cmd: &mut Command) -> Measured {
    const LIMIT: Duration = Duration::from_secs(60);
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("remedy starts");
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().expect("piped")));
    let stderr = drain(Box::new(child.stderr.take().expect("piped")));
    let status_path = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    let status = loop {
        if let Some(kib) = std::fs::read_to_string(&status_path)
            .ok()
            .and_then(|s| vm_hwm_kib(&s))
        {
            peak_kib = peak_kib.max(kib);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if start.elapsed() > LIMIT {
            let _ = child.kill();
            let _ = child.wait();
            panic!("remedy did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Measured {
        code: status.code().expect("exited, not killed by a signal"),
        stdout: stdout.join().expect("stdout"),
        stderr: stderr.join().expect("stderr"),
        elapsed: start.elapsed(),
        peak_rss_mib: peak_kib / 1024,
    }
}

fn vm_hwm_kib(status: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
