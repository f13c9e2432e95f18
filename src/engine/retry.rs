//! Retrying a user's directory calls: transient failures wait (a throttle
//! through the provider's shared pause, an unavailable service its own
//! `Retry-After`, the rest a jittered backoff), and a one-shot action
//! whose fate is unknown is confirmed by reading the account back before
//! it is ever repeated. Used by the engine and by `verify`.

use tokio::time::Instant;

use crate::directory::{Account, DirError, Directory, ErrorKind};
use crate::engine::backoff::backoff;
use crate::engine::events::RunEvent;

/// The longest a single error's own `Retry-After` is waited for. Graph
/// asks to be retried after its `Retry-After`, whatever it says; ten
/// minutes still fits well inside a user's deadline.
pub const MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

/// Where the waits of one run are announced (the progress display).
pub type Notify<'a> = &'a (dyn Fn(RunEvent) + Sync);

/// A notifier that tells no one.
pub fn quiet(_: RunEvent) {}

/// Counts the attempts of one call and the retries they used up. Throttling
/// uses none: the service asks to be called again after its `Retry-After`
/// until it answers, so 429s are bounded by the deadline alone.
struct Budget {
    attempts: u32,
    retries_used: u32,
    max_retries: u32,
    deadline: Instant,
}

impl Budget {
    fn new(max_retries: u32, deadline: Instant) -> Self {
        Budget {
            attempts: 0,
            retries_used: 0,
            max_retries,
            deadline,
        }
    }

    /// Whether the call may be made again after `e` (counting `e`).
    fn may_retry(&mut self, e: &DirError) -> bool {
        if e.kind != ErrorKind::Throttled {
            self.retries_used += 1;
        }
        e.is_retryable() && self.retries_used <= self.max_retries && Instant::now() < self.deadline
    }
}

/// Calls `f` until it succeeds, fails permanently, runs out of retries or
/// passes the deadline. Throttling pauses every worker and uses up no
/// retry.
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
    let mut budget = Budget::new(max_retries, deadline);
    loop {
        budget.attempts += 1;
        match f().await {
            Ok(v) => return Ok((v, budget.attempts)),
            Err(e) if budget.may_retry(&e) => {
                wait_after(dir, notify, &e, budget.retries_used).await;
            }
            Err(e) => return Err((e, budget.attempts)),
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
        _ => tokio::time::sleep(backoff(attempt.max(1))).await,
    }
}

/// Sends an action that must not happen twice (or a change whose answer
/// must not be taken for a failure when it went through). Whenever an
/// error leaves its fate unknown (no answer, a gateway error, an
/// unreadable success, a `$batch` answer that lost or repeated it), the
/// account is read back: if `applied` says it happened, it succeeded; if
/// not, it is resent only when the error is worth retrying, and otherwise
/// fails with that error.
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
    let mut budget = Budget::new(max_retries, deadline);
    loop {
        budget.attempts += 1;
        let e = match send().await {
            Ok(()) => return Ok(budget.attempts),
            Err(e) => e,
        };
        let again = budget.may_retry(&e);
        if again {
            wait_after(dir, notify, &e, budget.retries_used).await;
        }
        if e.fate_unknown() {
            match retrying(dir, notify, max_retries, deadline, || dir.read(id)).await {
                Ok((account, _)) if applied(&account) => return Ok(budget.attempts),
                Ok(_) => {}
                Err((e, n)) => return Err((e, budget.attempts + n)),
            }
        }
        if !again {
            return Err((e, budget.attempts));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use secrecy::SecretString;

    use super::*;
    use crate::directory::{Op, Target};
    use crate::emulator::{EmulatorConfig, RunningEmulator, UserSource};
    use crate::graph::auth::Credential;
    use crate::graph::cloud::{Cloud, Endpoints};
    use crate::graph::{ClientOptions, GraphClient, GraphDirectory, SendOptions};

    const UPN: &str = "user0000001@contoso.onmicrosoft.com";

    async fn directory() -> (RunningEmulator, Directory) {
        let emu = crate::emulator::start(EmulatorConfig {
            users: UserSource::Generate(2),
            ..EmulatorConfig::default()
        })
        .await
        .unwrap();
        let endpoints =
            Endpoints::resolve(Cloud::Global, Some(&emu.url()), Some(&emu.url())).unwrap();
        let client = GraphClient::build(
            &ClientOptions::default(),
            endpoints,
            Credential::ClientSecret {
                tenant: emu.tenant_id().to_owned(),
                client_id: "retry-tests".to_owned(),
                secret: SecretString::from("emulator".to_owned()),
            },
        )
        .unwrap();
        let send = SendOptions {
            concurrency: 1,
            batch: false,
            max_rate: None,
        };
        let target = Target {
            provider: "graph".into(),
            endpoint: emu.url(),
            realm: None,
            principal: None,
            name: None,
        };
        (
            emu,
            Directory::Graph(GraphDirectory::new(client, send, target)),
        )
    }

    fn error(kind: ErrorKind, fate_unknown: bool) -> DirError {
        DirError {
            kind,
            code: None,
            message: format!("{kind:?}"),
            request_id: None,
            retry_after: None,
            hint: None,
            fate_unknown,
        }
    }

    fn resets(emu: &RunningEmulator) -> u32 {
        emu.users_snapshot()
            .iter()
            .find(|u| u.user_principal_name == UPN)
            .unwrap()
            .reset_count
    }

    fn reset() -> Op {
        Op::ResetPassword {
            password: SecretString::from("Xk4!pLm9#qRs2$vT".to_owned()),
            force_change: true,
            with_mfa: false,
        }
    }

    /// Sends the reset for real, then answers `e`, as a server whose
    /// answer was lost or garbled after the change would.
    async fn applied_then(
        dir: &Directory,
        id: &str,
        e: DirError,
        sends: &AtomicU32,
    ) -> Result<(), DirError> {
        sends.fetch_add(1, Ordering::Relaxed);
        dir.apply(id, &reset()).await?;
        Err(e)
    }

    #[tokio::test]
    async fn an_unknown_fate_is_read_back_retryable_or_not_and_never_resent() {
        let (emu, dir) = directory().await;
        let deadline = Instant::now() + Duration::from_secs(60);
        for (n, (kind, retryable)) in [
            // A lost connection or a gateway's 502/504: retryable.
            (ErrorKind::Connection, true),
            (ErrorKind::Unavailable, true),
            // An unreadable 2xx: not retryable, but it happened.
            (ErrorKind::Refused, false),
        ]
        .into_iter()
        .enumerate()
        {
            let sends = AtomicU32::new(0);
            let e = error(kind, true);
            assert_eq!(e.is_retryable(), retryable);
            let before = dir.read(UPN).await.unwrap();
            let moved = |now: &Account| now.password_changed != before.password_changed;
            // The emulator's timestamps have one-second resolution.
            tokio::time::sleep(Duration::from_millis(1100)).await;
            let r = once_only(&dir, &quiet, 5, deadline, &before.id, moved, || {
                applied_then(&dir, &before.id, e.clone(), &sends)
            })
            .await;
            assert_eq!(r.map_err(|(e, _)| e.message), Ok(1), "{kind:?}");
            assert_eq!(sends.load(Ordering::Relaxed), 1, "{kind:?}: sent once");
            assert_eq!(resets(&emu), n as u32 + 1, "{kind:?}: applied once");
        }
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn an_unknown_fate_that_did_not_happen_is_resent_only_when_retryable() {
        let (emu, dir) = directory().await;
        let account = dir.read(UPN).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        let never = |_: &Account| false;
        // Not retryable: one send, one read back, then the honest failure.
        let sends = AtomicU32::new(0);
        let r = once_only(&dir, &quiet, 5, deadline, &account.id, never, || async {
            sends.fetch_add(1, Ordering::Relaxed);
            Err::<(), _>(error(ErrorKind::Refused, true))
        })
        .await;
        let (e, attempts) = r.unwrap_err();
        assert_eq!((e.kind, attempts), (ErrorKind::Refused, 1));
        assert_eq!(sends.load(Ordering::Relaxed), 1);
        // Retryable: resent after the read back, up to the retries.
        let sends = AtomicU32::new(0);
        let r = once_only(&dir, &quiet, 1, deadline, &account.id, never, || async {
            sends.fetch_add(1, Ordering::Relaxed);
            Err::<(), _>(error(ErrorKind::Unavailable, true))
        })
        .await;
        assert_eq!(r.unwrap_err().1, 2);
        assert_eq!(sends.load(Ordering::Relaxed), 2);
        assert_eq!(resets(&emu), 0);
        emu.shutdown().await;
    }

    #[tokio::test]
    async fn throttling_uses_up_no_retry_but_the_deadline_still_bounds_it() {
        let (emu, dir) = directory().await;
        let account = dir.read(UPN).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        // Ten 429s with no retry allowed, then success.
        let calls = AtomicU32::new(0);
        let r = retrying(&dir, &quiet, 0, deadline, || async {
            if calls.fetch_add(1, Ordering::Relaxed) < 10 {
                Err(error(ErrorKind::Throttled, false))
            } else {
                Ok(())
            }
        })
        .await;
        assert_eq!(r.map(|((), n)| n).map_err(|(_, n)| n), Ok(11));
        let calls = AtomicU32::new(0);
        let r = once_only(
            &dir,
            &quiet,
            0,
            deadline,
            &account.id,
            |_| false,
            || async {
                if calls.fetch_add(1, Ordering::Relaxed) < 10 {
                    Err(error(ErrorKind::Throttled, false))
                } else {
                    Ok(())
                }
            },
        )
        .await;
        assert_eq!(r.map_err(|(_, n)| n), Ok(11));
        // Other failures still count.
        let r = retrying(&dir, &quiet, 2, deadline, || async {
            Err::<(), _>(error(ErrorKind::Timeout, true))
        })
        .await;
        assert_eq!(r.unwrap_err().1, 3);
        // Past the deadline a 429 is the answer.
        let r = retrying(&dir, &quiet, 5, Instant::now(), || async {
            Err::<(), _>(error(ErrorKind::Throttled, false))
        })
        .await;
        assert_eq!(r.unwrap_err().1, 1);
        emu.shutdown().await;
    }

    #[test]
    fn a_long_retry_after_is_honoured_up_to_ten_minutes() {
        assert_eq!(MAX_WAIT, Duration::from_secs(600));
        assert_eq!(crate::graph::limiter::MAX_PAUSE, MAX_WAIT);
        assert!(crate::graph::error::MAX_RETRY_AFTER >= MAX_WAIT);
        assert!(crate::engine::user::USER_DEADLINE > MAX_WAIT);
    }
}
