//! Retrying a user's directory calls: transient failures wait (a throttle
//! through the provider's shared pause, an unavailable service its own
//! `Retry-After`, the rest a jittered backoff), and a one-shot action
//! whose fate is unknown is confirmed by reading the account back before
//! it is ever repeated. Used by the engine and by `verify`.

use tokio::time::Instant;

use crate::directory::{Account, DirError, Directory, ErrorKind};
use crate::engine::backoff::backoff;
use crate::engine::events::RunEvent;

/// The longest a single error's own `Retry-After` is waited for.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// Where the waits of one run are announced (the progress display).
pub type Notify<'a> = &'a (dyn Fn(RunEvent) + Sync);

/// A notifier that tells no one.
pub fn quiet(_: RunEvent) {}

/// Calls `f` until it succeeds, fails permanently, runs out of attempts or
/// passes the deadline. Throttling pauses every worker.
pub async fn retrying<T, F, Fut>(
    dir: &Directory,
    notify: Notify<'_>,
    max_retries: u32,
    deadline: Instant,
    mut f: F,
) -> Result<(T, u32), (DirError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, DirError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) if e.is_retryable() && attempt <= max_retries && Instant::now() < deadline => {
                wait_after(dir, notify, &e, attempt).await;
            }
            Err(e) => return Err((e, attempt)),
        }
    }
}

async fn wait_after(dir: &Directory, notify: Notify<'_>, e: &DirError, attempt: u32) {
    match (e.kind, e.retry_after) {
        // The service throttles the app as a whole: the provider has
        // paused every worker; the retry waits there.
        (ErrorKind::Throttled, _) => {
            let pause = dir.pause();
            tracing::debug!(
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                request_id = e.request_id.as_deref(),
                "throttled; every worker pauses"
            );
            notify(RunEvent::Throttled { for_: pause });
        }
        // An unavailable service's Retry-After concerns this request:
        // only it waits.
        (ErrorKind::Unavailable, Some(wait)) => tokio::time::sleep(wait.min(MAX_WAIT)).await,
        _ => tokio::time::sleep(backoff(attempt)).await,
    }
}

/// Sends a one-shot action. When its fate is unknown (no answer), reads the
/// account back and resends only if `applied` says it did not happen.
pub async fn once_only<F, Fut>(
    dir: &Directory,
    notify: Notify<'_>,
    max_retries: u32,
    deadline: Instant,
    id: &str,
    applied: impl Fn(&Account) -> bool,
    mut send: F,
) -> Result<u32, (DirError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), DirError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let e = match send().await {
            Ok(()) => return Ok(attempt),
            Err(e) => e,
        };
        if !(e.is_retryable() && attempt <= max_retries && Instant::now() < deadline) {
            return Err((e, attempt));
        }
        wait_after(dir, notify, &e, attempt).await;
        if e.fate_unknown() {
            match retrying(dir, notify, max_retries, deadline, || dir.read(id)).await {
                Ok((account, _)) if applied(&account) => return Ok(attempt),
                Ok(_) => {}
                Err((e, n)) => return Err((e, attempt + n)),
            }
        }
    }
}
