//! Runs the verify pass: streams the journal into per-user expectations on
//! a reader thread, reads those accounts concurrently through the
//! directory (batched, under the shared rate budget) with the engine's
//! retries, and writes one `verify.jsonl` line per check plus `verify.md`,
//! in bounded memory.

use std::io::{self, BufWriter, Write};
use std::path::Path;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::directory::{Account, DirError, Directory, ErrorKind};
use crate::engine::retry::{quiet, retrying};
use crate::engine::user::{DEFAULT_RETRIES, USER_DEADLINE};
use crate::playbook::Playbook;
use crate::steps::evaluate;
use crate::verify::expect::{Collector, UserChecks};
/// Checks that did not hold kept for the terminal and `verify.md`.
const SHOWN: usize = 50;

/// How one check ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// The run's change holds.
    Ok,
    /// It does not (or the user is gone).
    Drift,
    /// The user could not be read.
    Error,
}

/// One line of `verify.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub row: u64,
    pub user: String,
    pub step: String,
    pub property: &'static str,
    pub status: CheckStatus,
    pub expected: String,
    pub actual: String,
}

impl Check {
    /// The check with its text (a CSV key, what Graph answered or why it
    /// could not be read) on one line, control and bidi characters escaped
    /// ([`crate::report::one_line`]).
    fn on_one_line(mut self) -> Self {
        for text in [
            &mut self.user,
            &mut self.step,
            &mut self.expected,
            &mut self.actual,
        ] {
            if let std::borrow::Cow::Owned(clean) = crate::report::one_line(text) {
                *text = clean;
            }
        }
        self
    }
}

/// What the verify pass found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifySummary {
    pub users: u64,
    pub checks: u64,
    pub ok: u64,
    pub drift: u64,
    pub errors: u64,
    /// The first checks that did not hold.
    pub shown: Vec<Check>,
}

impl VerifySummary {
    fn add(&mut self, check: &Check) {
        self.checks += 1;
        *match check.status {
            CheckStatus::Ok => &mut self.ok,
            CheckStatus::Drift => &mut self.drift,
            CheckStatus::Error => &mut self.errors,
        } += 1;
        if check.status != CheckStatus::Ok && self.shown.len() < SHOWN {
            self.shown.push(check.clone());
        }
    }
}

/// Verifies the run whose journal is `journal` (its steps described by
/// `playbook`), writing `verify.jsonl` into `out_dir`.
pub async fn verify_run(
    directories: &[Directory],
    journal: &Path,
    playbook: &Playbook,
    out_dir: &Path,
) -> io::Result<VerifySummary> {
    let (tx, mut rx) = mpsc::channel::<UserChecks>(1024);
    let reader = {
        let journal = journal.to_owned();
        let mut collector = Collector::new(playbook);
        std::thread::spawn(move || -> io::Result<()> {
            crate::journal::for_each_record(&journal, |record| {
                if let Some(user) = collector.feed(record) {
                    tx.blocking_send(user)
                        .map_err(|_| io::Error::other("the verify pass stopped"))?;
                }
                Ok(())
            })?;
            for user in collector.rest() {
                tx.blocking_send(user)
                    .map_err(|_| io::Error::other("the verify pass stopped"))?;
            }
            Ok(())
        })
    };
    let in_flight = directories
        .iter()
        .map(Directory::users_in_flight)
        .max()
        .unwrap_or(1);
    let mut out = BufWriter::new(crate::atomic_file::AtomicFile::create(
        &out_dir.join("verify.jsonl"),
    )?);
    let mut summary = VerifySummary::default();
    let mut write_error: Option<io::Error> = None;
    let source = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
    source
        .map(|user| async move {
            // Each target the user's steps acted on is read once, by the
            // id the run journaled there (else by the CSV key).
            let mut reads = Vec::new();
            for c in &user.checks {
                if reads.iter().any(|(t, _)| *t == c.target) {
                    continue;
                }
                let key = user
                    .checks
                    .iter()
                    .filter(|x| x.target == c.target)
                    .find_map(|x| x.user_id.clone())
                    .or_else(|| (c.target == 0).then(|| user.user_id.clone()).flatten())
                    .unwrap_or_else(|| user.user.clone());
                let dir = directories.get(c.target).unwrap_or(&directories[0]);
                reads.push((c.target, read(dir, &key).await));
            }
            (reads, user)
        })
        .buffer_unordered(in_flight.max(1))
        .for_each(|(reads, user)| {
            summary.users += 1;
            for check in checks(&user, &reads, |t| {
                directories.get(t).unwrap_or(&directories[0]).label_fn()
            }) {
                let check = check.on_one_line();
                summary.add(&check);
                let line = serde_json::to_vec(&check).unwrap_or_default();
                if write_error.is_none()
                    && let Err(e) = out.write_all(&line).and_then(|()| out.write_all(b"\n"))
                {
                    write_error = Some(e);
                }
            }
            std::future::ready(())
        })
        .await;
    reader
        .join()
        .map_err(|_| io::Error::other("the journal reader stopped unexpectedly"))??;
    if let Some(e) = write_error {
        return Err(e);
    }
    out.into_inner()
        .map_err(io::IntoInnerError::into_error)?
        .commit()?;
    Ok(summary)
}

/// Reads an account with the engine's retries: a throttle waits in the
/// shared pause, an unavailable service for its own `Retry-After`, within
/// the same deadline a run gives one user.
async fn read(directory: &Directory, key: &str) -> Result<Account, DirError> {
    let deadline = tokio::time::Instant::now() + USER_DEADLINE;
    retrying(directory, &quiet, DEFAULT_RETRIES, deadline, || {
        directory.read(key)
    })
    .await
    .map(|(account, _)| account)
    .map_err(|(e, _)| e)
}

/// The user's checks against what was read.
fn checks(
    user: &UserChecks,
    reads: &[(usize, Result<Account, DirError>)],
    label: impl Fn(usize) -> fn(crate::directory::Property) -> &'static str,
) -> Vec<Check> {
    user.checks
        .iter()
        .filter_map(|c| {
            let read = &reads.iter().find(|(t, _)| *t == c.target)?.1;
            let (status, expected, actual) = match read {
                Ok(state) => {
                    let v = evaluate(&c.expect, state);
                    let status = if v.holds {
                        CheckStatus::Ok
                    } else {
                        CheckStatus::Drift
                    };
                    (status, v.expected, v.actual)
                }
                Err(e) if e.kind == ErrorKind::NotFound => (
                    CheckStatus::Drift,
                    "the user exists".to_owned(),
                    "user not found".to_owned(),
                ),
                Err(e) => (
                    CheckStatus::Error,
                    "a readable user".to_owned(),
                    format!("cannot read the user: {e}"),
                ),
            };
            Some(Check {
                row: user.row,
                user: user.user.clone(),
                step: c.step.clone(),
                property: label(c.target)(c.expect.property()),
                status,
                expected,
                actual,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_keeps_no_control_or_bidi_character() {
        let check = Check {
            row: 1,
            user: "a\u{202E}b@x".into(),
            step: "s".into(),
            property: "accountEnabled",
            status: CheckStatus::Error,
            expected: "true".into(),
            actual: "read failed: \u{1b}[2Jgone\r\nok".into(),
        }
        .on_one_line();
        assert_eq!(check.user, "a\\u{202e}b@x");
        assert_eq!(check.actual, "read failed: \\u{1b}[2Jgone ok");
        assert_eq!(check.expected, "true");
    }
}
