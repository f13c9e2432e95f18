//! The state directory (`.remedy/` by default): one directory per run under
//! `runs/<run-id>/` holding its manifest, journal, secrets and reports, and
//! an advisory lock so two runs never share a state directory at once.
//!
//! The lock is `flock`-style (`File::try_lock`): the kernel releases it
//! when the process dies, so a killed run never blocks its own `--resume`.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::directory::Recorded;
use crate::operator::Operator;
use crate::shard::Shard;

/// A locked state directory.
#[derive(Debug)]
pub struct StateDir {
    pub path: PathBuf,
    _lock: File,
}

/// Why the state directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("cannot use state directory {path}: {source}")]
    Io { path: PathBuf, source: io::Error },
    #[error("another remedy run is using the state directory {0}")]
    Locked(PathBuf),
    #[error("no recorded run in {0}")]
    NoRuns(PathBuf),
    #[error("no run `{id}` in {dir}")]
    NoSuchRun { id: String, dir: PathBuf },
}

impl StateError {
    pub fn hint(&self) -> &'static str {
        match self {
            StateError::Io { .. } => {
                "check the path and its permissions, or pick another with --state-dir"
            }
            StateError::Locked(_) => {
                "wait for it to finish, or use another --state-dir for an unrelated run"
            }
            StateError::NoRuns(_) | StateError::NoSuchRun { .. } => {
                "start a new run without --resume, or name one of the runs `remedy runs` lists"
            }
        }
    }
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StateError + '_ {
    move |source| StateError::Io {
        path: path.to_owned(),
        source,
    }
}

/// Creates `path` with mode 0700 (if missing).
fn private_dir(path: &Path) -> io::Result<()> {
    let mut b = std::fs::DirBuilder::new();
    b.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b.create(path)
}

impl StateDir {
    /// Creates (mode 0700) and locks the state directory.
    pub fn open(path: &Path) -> Result<Self, StateError> {
        private_dir(&path.join("runs")).map_err(io_err(path))?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path.join("lock"))
            .map_err(io_err(path))?;
        match lock.try_lock() {
            Ok(()) => Ok(StateDir {
                path: path.to_owned(),
                _lock: lock,
            }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StateError::Locked(path.to_owned())),
            Err(std::fs::TryLockError::Error(e)) => Err(StateError::Io {
                path: path.to_owned(),
                source: e,
            }),
        }
    }

    /// A new, empty run directory. Ids sort by start time: the stamp has
    /// milliseconds, because runs started within one second (a dry run and
    /// then the real one, in a script) must still sort in order for "the
    /// latest run" to mean the last one.
    pub fn new_run(&self) -> Result<RunDir, StateError> {
        let now = time::OffsetDateTime::now_utc();
        let stamp = now
            .format(&time::macros::format_description!(
                "[year][month][day]T[hour][minute][second].[subsecond digits:3]Z"
            ))
            .unwrap_or_else(|_| now.unix_timestamp().to_string());
        let suffix: u16 = rand::random();
        let id = format!("{stamp}-{suffix:04x}");
        let path = self.path.join("runs").join(&id);
        private_dir(&path).map_err(io_err(&path))?;
        Ok(RunDir { id, path })
    }

    /// The run named `id`, or the latest one.
    pub fn find_run(&self, id: Option<&str>) -> Result<RunDir, StateError> {
        find_run_unlocked(&self.path, id)
    }

    /// Every run with a manifest, oldest first (ids sort by start time).
    pub fn runs(&self) -> Result<Vec<RunDir>, StateError> {
        list_runs(&self.path)
    }
}

/// Every run with a manifest in the state directory at `state`, oldest
/// first, without taking the lock (for listing and reports, which write
/// nothing there).
pub fn list_runs(state: &Path) -> Result<Vec<RunDir>, StateError> {
    let runs = state.join("runs");
    let mut out: Vec<RunDir> = std::fs::read_dir(&runs)
        .map_err(io_err(&runs))?
        .filter_map(Result::ok)
        .filter(|e| e.path().join("manifest.json").is_file())
        .filter_map(|e| {
            let id = e.file_name().to_str()?.to_owned();
            Some(RunDir { id, path: e.path() })
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

/// The run named `id` in `state`, or the latest one, without the lock.
pub fn find_run_unlocked(state: &Path, id: Option<&str>) -> Result<RunDir, StateError> {
    let runs = state.join("runs");
    if let Some(id) = id {
        let path = runs.join(id);
        if id.contains(['/', '\\']) || !path.join("manifest.json").is_file() {
            return Err(StateError::NoSuchRun {
                id: id.to_owned(),
                dir: runs,
            });
        }
        return Ok(RunDir {
            id: id.to_owned(),
            path,
        });
    }
    list_runs(state)?.pop().ok_or(StateError::NoRuns(runs))
}

/// Whether a process holds the lock of the state directory at `state` now
/// (a run is in progress). Probing takes the lock for an instant; a run
/// starting in that instant is told the directory is busy.
pub fn is_locked(state: &Path) -> bool {
    let Ok(lock) = File::open(state.join("lock")) else {
        return false;
    };
    matches!(lock.try_lock(), Err(std::fs::TryLockError::WouldBlock))
}

/// One run's directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub id: String,
    pub path: PathBuf,
}

impl RunDir {
    pub fn journal(&self) -> PathBuf {
        self.path.join("journal.jsonl")
    }

    pub fn secrets(&self) -> PathBuf {
        self.path.join("secrets.csv")
    }

    pub fn manifest(&self) -> PathBuf {
        self.path.join("manifest.json")
    }

    pub fn read_manifest(&self) -> io::Result<Manifest> {
        let text = std::fs::read_to_string(self.manifest())?;
        serde_json::from_str(&text).map_err(io::Error::other)
    }

    /// Writes the manifest atomically (temporary file, fsync, rename).
    pub fn write_manifest(&self, m: &Manifest) -> io::Result<()> {
        let tmp = self.path.join("manifest.json.tmp");
        let mut f = File::create(&tmp)?;
        f.write_all(&serde_json::to_vec_pretty(m).map_err(io::Error::other)?)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, self.manifest())
    }
}

/// Where a run stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    Completed,
    Interrupted,
    StoppedByGuard,
}

/// Counts recorded in the manifest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    /// Users this run covers: the CSV's rows, or the shard's share of them.
    pub users: u64,
    /// Rows of the whole CSV (equal to `users` without `--shard`).
    #[serde(default)]
    pub csv_rows: u64,
    pub processed: u64,
    pub failed: u64,
    pub done_earlier: u64,
}

/// What a run sent and how long it took (`traffic` in `manifest.json`),
/// written when the run finishes.
///
/// A resumed run records the sum over its attempts: each attempt that
/// finishes adds its own figures to those the manifest held when it
/// started (an attempt killed before it could write them adds nothing),
/// and `attempts` says how many were added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RunTraffic {
    /// Seconds from the attempt's start (its manifest written) to its end.
    pub duration_s: f64,
    /// Calls sent: HTTP calls (a `$batch` is one) or LDAP operations.
    pub calls: u64,
    /// Requests and `$batch` items (LDAP: operations) answered, any status.
    pub answered: u64,
    /// HTTP 429 answers, `$batch` items included.
    pub throttled: u64,
    /// Seconds every worker waited because a service throttled the run
    /// (overlapping pauses counted once).
    pub paused_s: f64,
    /// Attempts added up (1 for a run never resumed).
    #[serde(default = "one")]
    pub attempts: u32,
}

fn one() -> u32 {
    1
}

impl RunTraffic {
    /// One attempt's figures.
    pub fn attempt(
        duration: std::time::Duration,
        traffic: &crate::directory::Traffic,
        paused: std::time::Duration,
    ) -> Self {
        RunTraffic {
            duration_s: round_ms(duration.as_secs_f64()),
            calls: traffic.calls,
            answered: traffic.answered,
            throttled: traffic.throttled,
            paused_s: round_ms(paused.as_secs_f64()),
            attempts: 1,
        }
    }

    /// This attempt's figures added to an earlier attempts' total, if any.
    #[must_use]
    pub fn after(self, earlier: Option<&RunTraffic>) -> Self {
        let Some(e) = earlier else {
            return self;
        };
        RunTraffic {
            duration_s: round_ms(e.duration_s + self.duration_s),
            calls: e.calls.saturating_add(self.calls),
            answered: e.answered.saturating_add(self.answered),
            throttled: e.throttled.saturating_add(self.throttled),
            paused_s: round_ms(e.paused_s + self.paused_s),
            attempts: e.attempts.saturating_add(self.attempts),
        }
    }

    /// Calls sent per second of the run's duration.
    pub fn calls_per_second(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.calls as f64 / self.duration_s
        } else {
            0.0
        }
    }

    /// Requests answered per second of the run's duration.
    pub fn answered_per_second(&self) -> f64 {
        if self.duration_s > 0.0 {
            self.answered as f64 / self.duration_s
        } else {
            0.0
        }
    }
}

/// Seconds to the millisecond, so the manifest shows `12.345`, not float noise.
fn round_ms(secs: f64) -> f64 {
    (secs * 1000.0).round() / 1000.0
}

/// A playbook step as the manifest records it, so that reports can be
/// regenerated without the playbook file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepInfo {
    pub id: String,
    pub title: String,
}

/// What a run (and a plan) was made from: the playbook and the CSV as the
/// operator named them, and their SHA-256, which `--resume` and `apply`
/// compare.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inputs {
    pub playbook_name: String,
    pub playbook_file: String,
    pub playbook_sha256: String,
    pub csv_file: String,
    pub csv_sha256: String,
}

/// `manifest.json`: what a run was, for resuming and for incident records.
///
/// Fields added after the first release carry `#[serde(default)]`, so the
/// manifests of older runs still load (for `--resume`, `remedy runs` and
/// `remedy report`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    pub run_id: String,
    pub remedy_version: String,
    /// Who started the run, and on which host.
    #[serde(default)]
    pub operator: Operator,
    /// The playbook and the CSV, by path and SHA-256.
    #[serde(flatten)]
    pub inputs: Inputs,
    /// The directory the run addressed (a hybrid run: its first target).
    #[serde(flatten)]
    pub target: Recorded,
    /// A hybrid run: every target, in the playbook's order, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<crate::directory::Target>,
    pub emulated: bool,
    pub dry_run: bool,
    /// `--shard i/N`; `None` when the run covers the whole CSV.
    #[serde(default)]
    pub shard: Option<Shard>,
    /// The playbook's steps, in order.
    #[serde(default)]
    pub steps: Vec<StepInfo>,
    pub started: String,
    pub finished: Option<String>,
    pub status: RunStatus,
    pub counts: Counts,
    /// What the run sent, once an attempt has finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic: Option<RunTraffic>,
}

impl Manifest {
    /// Each directory the run addressed, described, when that is more than
    /// one Graph tenant (which reports show as `Tenant`).
    pub fn directories(&self) -> Vec<String> {
        let all = self.all_targets();
        if all.len() == 1 && all[0].provider == "graph" {
            return Vec::new();
        }
        all.iter().map(crate::directory::Target::describe).collect()
    }

    /// Every directory the run addressed, in the playbook's order.
    pub fn all_targets(&self) -> Vec<crate::directory::Target> {
        if self.targets.is_empty() {
            vec![self.target.0.clone()]
        } else {
            self.targets.clone()
        }
    }
}

/// SHA-256 of a file, hex, read in chunks (the CSV may be large).
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut f = File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = f.read(&mut buf)?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Now, RFC 3339 in UTC.
pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_opener_is_refused_until_the_first_drops() {
        let dir = tempfile::tempdir().unwrap();
        let a = StateDir::open(dir.path()).unwrap();
        assert!(matches!(
            StateDir::open(dir.path()),
            Err(StateError::Locked(_))
        ));
        drop(a);
        StateDir::open(dir.path()).unwrap();
    }

    #[test]
    fn runs_are_found_latest_first_and_private() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        assert!(matches!(s.find_run(None), Err(StateError::NoRuns(_))));
        let r = s.new_run().unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&r.path).unwrap().permissions().mode() & 0o777,
                0o700
            );
            assert_eq!(
                std::fs::metadata(dir.path().join("runs"))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777,
                0o700
            );
        }
        let m = Manifest {
            run_id: r.id.clone(),
            remedy_version: "x".into(),
            operator: Operator::current(),
            inputs: Inputs {
                playbook_name: "p".into(),
                playbook_file: "p.yaml".into(),
                playbook_sha256: "a".into(),
                csv_file: "u.csv".into(),
                csv_sha256: "b".into(),
            },
            targets: Vec::new(),
            target: Recorded(crate::directory::Target {
                provider: "graph".into(),
                endpoint: "http://127.0.0.1:1".into(),
                realm: None,
                principal: None,
                name: None,
            }),
            emulated: true,
            dry_run: false,
            shard: Some("2/3".parse().unwrap()),
            steps: vec![StepInfo {
                id: "reset".into(),
                title: "Reset".into(),
            }],
            started: now_rfc3339(),
            finished: None,
            status: RunStatus::Running,
            counts: Counts::default(),
            traffic: None,
        };
        r.write_manifest(&m).unwrap();
        let text = std::fs::read_to_string(r.manifest()).unwrap();
        assert!(
            !text.contains("traffic"),
            "no traffic until a run finishes: {text}"
        );
        assert_eq!(s.find_run(None).unwrap().id, r.id);
        assert_eq!(s.find_run(Some(&r.id)).unwrap().read_manifest().unwrap(), m);
        assert!(s.find_run(Some("../etc")).is_err());
        assert!(is_locked(dir.path()));
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = s.new_run().unwrap();
        later.write_manifest(&m).unwrap();
        assert_eq!(s.find_run(None).unwrap().id, later.id, "ids sort by time");
        drop(s);
        assert!(!is_locked(dir.path()));
        assert_eq!(find_run_unlocked(dir.path(), None).unwrap().id, later.id);
    }

    /// Manifests written before the incident-record fields existed still
    /// load, so older runs can be resumed, listed and reported.
    #[test]
    fn older_manifests_load() {
        let old = r#"{"run_id":"20250101T000000Z-0001","remedy_version":"0.1.0",
            "playbook_name":"p","playbook_file":"p.yaml","playbook_sha256":"a",
            "csv_file":"u.csv","csv_sha256":"b","tenant":null,"app_id":null,
            "graph_url":"http://127.0.0.1:1","emulated":true,"dry_run":false,
            "started":"2025-01-01T00:00:00Z","finished":null,"status":"running",
            "counts":{"users":3,"processed":0,"failed":0,"done_earlier":0}}"#;
        let m: Manifest = serde_json::from_str(old).unwrap();
        assert_eq!(m.shard, None);
        assert_eq!(m.operator, Operator::default());
        assert_eq!(m.counts.csv_rows, 0);
        assert_eq!(m.inputs.playbook_sha256, "a");
        assert_eq!(m.target.endpoint, "http://127.0.0.1:1");
        assert_eq!(m.target.provider, "graph");
        assert_eq!(m.traffic, None, "a manifest without `traffic` loads");
    }

    #[test]
    fn traffic_round_trips_and_a_resumed_run_adds_its_attempts() {
        let dir = tempfile::tempdir().unwrap();
        let s = StateDir::open(dir.path()).unwrap();
        let r = s.new_run().unwrap();
        let first = RunTraffic::attempt(
            std::time::Duration::from_millis(12_345),
            &crate::directory::Traffic {
                calls: 40,
                answered: 700,
                throttled: 3,
                budget_per_second: Some(90.0),
            },
            std::time::Duration::from_millis(2_000),
        );
        let old = r#"{"run_id":"r","remedy_version":"0.1.0",
            "playbook_name":"p","playbook_file":"p.yaml","playbook_sha256":"a",
            "csv_file":"u.csv","csv_sha256":"b","graph_url":"http://127.0.0.1:1",
            "emulated":true,"dry_run":false,"started":"2025-01-01T00:00:00Z",
            "finished":null,"status":"running",
            "counts":{"users":3,"processed":0,"failed":0,"done_earlier":0}}"#;
        let mut m: Manifest = serde_json::from_str(old).unwrap();
        m.traffic = Some(first.clone());
        r.write_manifest(&m).unwrap();
        let text = std::fs::read_to_string(r.manifest()).unwrap();
        assert!(text.contains("\"duration_s\": 12.345"), "{text}");
        assert!(text.contains("\"paused_s\": 2.0"), "{text}");
        let back = r.read_manifest().unwrap();
        assert_eq!(back, m);
        // An earlier attempt's totals, then this one's on top.
        let second = RunTraffic::attempt(
            std::time::Duration::from_millis(5_000),
            &crate::directory::Traffic {
                calls: 10,
                answered: 100,
                throttled: 0,
                budget_per_second: None,
            },
            std::time::Duration::ZERO,
        );
        let total = second.clone().after(back.traffic.as_ref());
        assert_eq!(
            total,
            RunTraffic {
                duration_s: 17.345,
                calls: 50,
                answered: 800,
                throttled: 3,
                paused_s: 2.0,
                attempts: 2,
            }
        );
        assert_eq!(second.clone().after(None), second);
        assert!((total.answered_per_second() - 800.0 / 17.345).abs() < 1e-9);
        assert_eq!(RunTraffic::default().calls_per_second(), 0.0);
        // A record written without `attempts` counts as one attempt.
        let bare: RunTraffic = serde_json::from_str(
            r#"{"duration_s":1.5,"calls":2,"answered":2,"throttled":0,"paused_s":0.0}"#,
        )
        .unwrap();
        assert_eq!(bare.attempts, 1);
    }
}
