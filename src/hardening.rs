//! Keeping secrets out of core files: from process start, every remedy
//! process sets `RLIMIT_CORE` to 0 (soft and hard, so nothing it runs can
//! raise it again) and, on Linux, marks itself non-dumpable
//! (`prctl(PR_SET_DUMPABLE, 0)`): no core file is written on a crash, and
//! processes of the same user can no longer attach with ptrace or read its
//! memory through `/proc/<pid>/mem`.
//!
//! A process of remedy may hold a client secret, a certificate password,
//! an access token or users' new passwords, whichever command it runs
//! (`run`, `plan`, `apply`, `verify`, `doctor`, the emulator's accepted
//! secret, a CSV's template passwords for `validate`), so the rule is the
//! same for all, applied once in `cli::main` before anything is read.
//!
//! Side effect on Linux: the files under `/proc/<pid>/` of a non-dumpable
//! process belong to root, so remedy never learns its own uid from
//! `/proc/self` (see `operator.rs`). Where a switch does not exist (the
//! dumpable flag outside Linux, resource limits outside Unix) that step is
//! skipped with a debug log; a step that fails where it exists is a
//! warning.

/// How one step went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Done,
    /// This platform has no such switch.
    Unsupported(&'static str),
    /// The call failed, with the system's error.
    Failed(String),
}

/// What [`harden`] did, to be logged once logging is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hardening {
    /// `RLIMIT_CORE` set to 0 (soft and hard).
    pub core_limit: Step,
    /// `PR_SET_DUMPABLE` 0.
    pub non_dumpable: Step,
}

impl Hardening {
    /// Logs the outcome: a debug line per step done or unsupported here, a
    /// warning for a step that failed where it should have worked (a crash
    /// could then write secrets to disk).
    pub fn log(&self) {
        for (what, step) in [
            ("core dumps disabled (RLIMIT_CORE 0)", &self.core_limit),
            ("process marked non-dumpable", &self.non_dumpable),
        ] {
            match step {
                Step::Done => tracing::debug!("{what}"),
                Step::Unsupported(why) => tracing::debug!("not {what}: {why}"),
                Step::Failed(e) => {
                    tracing::warn!("not {what}: {e}; a crash could leave secrets in a core file")
                }
            }
        }
    }

    /// Whether both steps took effect.
    #[must_use]
    pub fn complete(&self) -> bool {
        self.core_limit == Step::Done && self.non_dumpable == Step::Done
    }
}

/// Disables core dumps and makes the process non-dumpable; never stops the
/// process (see [`Hardening::log`]).
#[must_use]
pub fn harden() -> Hardening {
    Hardening {
        core_limit: no_core_files(),
        non_dumpable: not_dumpable(),
    }
}

#[cfg(unix)]
fn no_core_files() -> Step {
    use rustix::process::{Resource, Rlimit, setrlimit};
    match setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    ) {
        Ok(()) => Step::Done,
        Err(e) => Step::Failed(format!("setrlimit(RLIMIT_CORE, 0): {e}")),
    }
}

#[cfg(not(unix))]
fn no_core_files() -> Step {
    Step::Unsupported("resource limits exist on Unix only")
}

#[cfg(target_os = "linux")]
fn not_dumpable() -> Step {
    use rustix::process::{DumpableBehavior, set_dumpable_behavior};
    match set_dumpable_behavior(DumpableBehavior::NotDumpable) {
        Ok(()) => Step::Done,
        Err(e) => Step::Failed(format!("prctl(PR_SET_DUMPABLE, 0): {e}")),
    }
}

#[cfg(not(target_os = "linux"))]
fn not_dumpable() -> Step {
    Step::Unsupported("PR_SET_DUMPABLE exists on Linux only")
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// Set in the child process the test starts, which hardens itself.
    const CHILD: &str = "REMEDY_TEST_HARDENING_CHILD";

    /// Hardening is irreversible (the hard limit cannot be raised again by
    /// a non-root user), so it happens in a child: this test binary run
    /// again with only this test selected.
    #[test]
    fn hardening_disables_core_files_and_dumpability() {
        use rustix::process::{DumpableBehavior, Resource, dumpable_behavior, getrlimit};
        if std::env::var_os(CHILD).is_some() {
            let h = harden();
            assert!(h.complete(), "{h:?}");
            assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::NotDumpable);
            let core = getrlimit(Resource::Core);
            assert_eq!((core.current, core.maximum), (Some(0), Some(0)));
            println!("hardened child done");
            return;
        }
        assert_eq!(
            dumpable_behavior().unwrap(),
            DumpableBehavior::Dumpable,
            "the test process itself starts dumpable"
        );
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hardening::tests::hardening_disables_core_files_and_dumpability",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("hardened child done"), "{stdout}");
        assert!(stdout.contains("1 passed"), "{stdout}");
        // The parent is untouched.
        assert_eq!(dumpable_behavior().unwrap(), DumpableBehavior::Dumpable);
    }
}
