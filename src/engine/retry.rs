//! Retrying a user's Graph calls: transient failures wait (a throttle
//! through the shared limiter, a 503 its own `Retry-After`, the rest a
//! jittered backoff), and a one-shot action whose fate is unknown is
//! confirmed by reading the user back before it is ever repeated.

use tokio::time::Instant;

use crate::engine::Context;
use crate::engine::backoff::backoff;
use crate::engine::events::RunEvent;
use crate::engine::limiter::MAX_PAUSE;
use crate::graph::users::UserState;
use crate::graph::{ErrorKind, GraphError};

/// Calls `f` until it succeeds, fails permanently, runs out of attempts or
/// passes the deadline. Throttling pauses every worker.
pub async fn retrying<T, F, Fut>(
    cx: &Context,
    max_retries: u32,
    deadline: Instant,
    mut f: F,
) -> Result<(T, u32), (GraphError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, GraphError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match f().await {
            Ok(v) => return Ok((v, attempt)),
            Err(e) if e.is_retryable() && attempt <= max_retries && Instant::now() < deadline => {
                wait_after(cx, &e, attempt).await;
            }
            Err(e) => return Err((e, attempt)),
        }
    }
}

async fn wait_after(cx: &Context, e: &GraphError, attempt: u32) {
    match (e.kind, e.retry_after) {
        // Graph throttles the app as a whole: the dispatcher has paused
        // every worker through the shared limiter; the retry waits there.
        (ErrorKind::Throttled, _) => {
            let (_, pause) = cx.dispatch.limiter().status();
            tracing::debug!(
                pause_ms = u64::try_from(pause.as_millis()).unwrap_or(u64::MAX),
                request_id = e.request_id.as_deref(),
                "throttled by Graph; every worker pauses"
            );
            cx.event(RunEvent::Throttled { for_: pause });
        }
        // A 503's Retry-After concerns this request: only it waits.
        (ErrorKind::Server, Some(wait)) => tokio::time::sleep(wait.min(MAX_PAUSE)).await,
        _ => tokio::time::sleep(backoff(attempt)).await,
    }
}

/// Sends a one-shot action. When its fate is unknown (no answer), reads the
/// user back and resends only if `applied` says it did not happen.
pub async fn once_only<F, Fut>(
    cx: &Context,
    max_retries: u32,
    deadline: Instant,
    id: &str,
    applied: impl Fn(&UserState) -> bool,
    mut send: F,
) -> Result<u32, (GraphError, u32)>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), GraphError>>,
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
        let unknown = matches!(e.kind, ErrorKind::Connection | ErrorKind::Timeout);
        wait_after(cx, &e, attempt).await;
        if unknown {
            match retrying(cx, max_retries, deadline, || cx.get_user(id)).await {
                Ok((state, _)) if applied(&state) => return Ok(attempt),
                Ok(_) => {}
                Err((e, n)) => return Err((e, attempt + n)),
            }
        }
    }
}
