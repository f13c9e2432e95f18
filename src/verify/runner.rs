//! Runs the verify pass: streams the journal into per-user expectations on
//! a reader thread, reads those users concurrently through the engine's
//! dispatcher (batched, under the shared rate budget), and writes one
//! `verify.jsonl` line per check plus `verify.md`, in bounded memory.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::Arc;

use futures::StreamExt;
use serde::Serialize;
use tokio::sync::mpsc;

use crate::engine::backoff::backoff;
use crate::engine::dispatch::Dispatcher;
use crate::engine::limiter::Limiter;
use crate::graph::batch::MAX_BATCH;
use crate::graph::users::{self, UserState};
use crate::graph::{ErrorKind, GraphClient, GraphError};
use crate::playbook::Playbook;
use crate::verify::expect::{Collector, UserChecks, evaluate};

/// Attempts of a read after transient failures.
const ATTEMPTS: u32 = 6;
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
/// `playbook`), writing `verify.jsonl` and `verify.md` into `out_dir`.
pub async fn verify_run(
    client: &GraphClient,
    journal: &Path,
    playbook: &Playbook,
    out_dir: &Path,
    concurrency: usize,
    batch: bool,
) -> io::Result<VerifySummary> {
    let (tx, mut rx) = mpsc::channel::<UserChecks>(1024);
    let reader = {
        let journal = journal.to_owned();
        let mut collector = Collector::new(playbook);
        std::thread::spawn(move || -> io::Result<()> {
            crate::report::for_each_record(&journal, |record| {
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
    let dispatch = Dispatcher::new(
        client.clone(),
        Arc::new(Limiter::new(None)),
        concurrency,
        batch,
    );
    let in_flight = if batch {
        concurrency * MAX_BATCH
    } else {
        concurrency
    };
    let mut out = BufWriter::new(File::create(out_dir.join("verify.jsonl"))?);
    let mut summary = VerifySummary::default();
    let mut write_error: Option<io::Error> = None;
    let source = futures::stream::poll_fn(|cx| rx.poll_recv(cx));
    source
        .map(|user| {
            let dispatch = &dispatch;
            async move {
                let key = user.user_id.clone().unwrap_or_else(|| user.user.clone());
                (read(dispatch, &key).await, user)
            }
        })
        .buffer_unordered(in_flight.max(1))
        .for_each(|(read, user)| {
            summary.users += 1;
            for check in checks(&user, &read) {
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
        .sync_all()?;
    std::fs::write(out_dir.join("verify.md"), markdown(&summary))?;
    Ok(summary)
}

/// Reads a user, retrying transient failures.
async fn read(dispatch: &Dispatcher, key: &str) -> Result<UserState, GraphError> {
    let mut attempt = 0;
    loop {
        attempt += 1;
        let result = match dispatch.send(users::get_user(key)).await {
            Ok(resp) => users::parse_user(&resp),
            Err(e) => Err(e),
        };
        match result {
            Err(e) if e.is_retryable() && attempt < ATTEMPTS => {
                // A throttle already paused every sender in the limiter.
                if e.kind != ErrorKind::Throttled {
                    tokio::time::sleep(backoff(attempt)).await;
                }
            }
            other => return other,
        }
    }
}

/// The user's checks against what was read.
fn checks(user: &UserChecks, read: &Result<UserState, GraphError>) -> Vec<Check> {
    user.checks
        .iter()
        .map(|c| {
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
            Check {
                row: user.row,
                user: user.user.clone(),
                step: c.step.clone(),
                property: c.expect.property(),
                status,
                expected,
                actual,
            }
        })
        .collect()
}

/// `verify.md`: the counts, then the checks that did not hold.
fn markdown(s: &VerifySummary) -> String {
    let cell = |t: &str| t.replace('|', "\\|").replace(['\n', '\r'], " ");
    let mut out = format!(
        "# remedy verify\n\n| users | checks | ok | drift | errors |\n|---:|---:|---:|---:|---:|\n| {} | {} | {} | {} | {} |\n",
        s.users, s.checks, s.ok, s.drift, s.errors
    );
    if !s.shown.is_empty() {
        out.push_str("\n| row | user | step | property | status | expected | actual |\n|---:|---|---|---|---|---|---|\n");
        for c in &s.shown {
            out.push_str(&format!(
                "| {} | {} | {} | {} | {} | {} | {} |\n",
                c.row,
                cell(&c.user),
                cell(&c.step),
                c.property,
                if c.status == CheckStatus::Drift {
                    "drift"
                } else {
                    "error"
                },
                cell(&c.expected),
                cell(&c.actual)
            ));
        }
        let more = s.drift + s.errors - s.shown.len() as u64;
        if more > 0 {
            out.push_str(&format!("\n… and {more} more in verify.jsonl.\n"));
        }
    }
    out
}
