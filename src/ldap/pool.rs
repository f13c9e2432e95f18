//! A small pool of bound LDAP connections shared by every worker: each
//! `ldap3` handle multiplexes many operations on its connection, a
//! semaphore bounds the operations in flight to the configured
//! concurrency, and every operation has a time limit. A connection that
//! broke is dropped: the call that saw it fails with its connection error
//! (the engine decides what a write in doubt means), and the next call
//! on that slot opens and binds a fresh one. The traffic is counted
//! here: operations sent and answered, and the measured pace (operations
//! completed per second).

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::sync::{Mutex as AsyncMutex, Semaphore};

use crate::graph::redact::Redactor;
use crate::ldap::LdapError;
use crate::ldap::error::{ad_code, clean, code_name};

/// Connections opened at most.
pub const MAX_CONNECTIONS: usize = 4;

/// How to open and bind a connection.
pub struct Connector {
    pub url: String,
    pub bind_dn: String,
    pub password: SecretString,
    pub tls: Arc<rustls::ClientConfig>,
    pub timeout: Duration,
}

impl Connector {
    /// Opens a connection (StartTLS for `ldap://`), binds, and returns
    /// its handle; the connection is driven by a task of its own.
    pub async fn open(&self) -> Result<Ldap, LdapError> {
        let settings = LdapConnSettings::new()
            .set_config(self.tls.clone())
            .set_conn_timeout(self.timeout)
            .set_starttls(self.url.starts_with("ldap://"));
        let connect = |reason: String| LdapError::Connect {
            url: self.url.clone(),
            reason,
        };
        if !(self.url.starts_with("ldap://") || self.url.starts_with("ldaps://")) {
            return Err(connect(
                "the url must be ldaps:// or ldap:// (then StartTLS)".into(),
            ));
        }
        let (conn, mut ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| connect(clean(&e.to_string(), &Redactor::new())))?;
        tokio::spawn(async move {
            // The connection's end is seen by the handle's next call.
            let _ = conn.drive().await;
        });
        let secrets = Redactor::new().with(self.password.expose_secret());
        let bound = ldap
            .with_timeout(self.timeout)
            .simple_bind(&self.bind_dn, self.password.expose_secret())
            .await;
        match bound {
            Ok(r) if r.rc == 0 => Ok(ldap),
            Ok(r) => {
                let text = clean(&r.text, &secrets);
                let code = match ad_code(&text) {
                    Some(ad) => format!("{} {ad}", code_name(r.rc)),
                    None => code_name(r.rc).to_owned(),
                };
                Err(LdapError::Bind {
                    url: self.url.clone(),
                    bind_dn: self.bind_dn.clone(),
                    reason: format!("{code} ({}): {text}", r.rc),
                    code,
                })
            }
            Err(e) => Err(connect(clean(&e.to_string(), &secrets))),
        }
    }
}

struct Slot {
    /// The handle and its generation (so that a call reporting a broken
    /// connection drops that one, not a fresh one opened since).
    handle: AsyncMutex<Option<(u64, Ldap)>>,
    /// A connection was opened here before (the next one is a reconnect).
    opened: std::sync::atomic::AtomicBool,
}

/// The pool.
pub struct Pool {
    connector: Connector,
    slots: Vec<Slot>,
    next: AtomicUsize,
    generation: AtomicUsize,
    in_flight: Semaphore,
    meter: Mutex<Meter>,
    /// Connections opened after the first ones (reconnects).
    reconnects: AtomicUsize,
    /// Operations handed a connection (one per lease; a paged search is
    /// one), and those that got an answer, whatever its result code.
    sent: AtomicU64,
    answered: AtomicU64,
}

/// A handle lent for one operation.
pub struct Lease<'a> {
    pub ldap: Ldap,
    slot: usize,
    generation: u64,
    pool: &'a Pool,
    _permit: tokio::sync::SemaphorePermit<'a>,
}

impl Lease<'_> {
    /// The operation ended: counted for the pace; `broken` drops the
    /// connection so the next call opens a fresh one.
    pub async fn done(self, broken: bool) {
        self.pool.count();
        if !broken {
            self.pool.answered.fetch_add(1, Ordering::Relaxed);
        }
        if broken {
            let mut h = self.pool.slots[self.slot].handle.lock().await;
            if h.as_ref().is_some_and(|(g, _)| *g == self.generation) {
                *h = None;
            }
        }
    }
}

impl Pool {
    /// A pool of `min(concurrency, MAX_CONNECTIONS)` connections, the
    /// first one opened (and bound) now so that a wrong url or password
    /// fails at once.
    pub async fn open(connector: Connector, concurrency: usize) -> Result<Self, LdapError> {
        let n = concurrency.clamp(1, MAX_CONNECTIONS);
        let pool = Pool {
            connector,
            slots: (0..n)
                .map(|_| Slot {
                    handle: AsyncMutex::new(None),
                    opened: std::sync::atomic::AtomicBool::new(false),
                })
                .collect(),
            next: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
            in_flight: Semaphore::new(concurrency.max(1)),
            meter: Mutex::new(Meter::new()),
            reconnects: AtomicUsize::new(0),
            sent: AtomicU64::new(0),
            answered: AtomicU64::new(0),
        };
        let first = pool.connector.open().await?;
        *pool.slots[0].handle.lock().await = Some((0, first));
        pool.slots[0].opened.store(true, Ordering::Relaxed);
        pool.generation.store(1, Ordering::Relaxed);
        Ok(pool)
    }

    /// A bound handle for one operation, waiting for a free place in
    /// flight; opens (or reopens) the slot's connection when needed.
    pub async fn lease(&self) -> Result<Lease<'_>, LdapError> {
        let permit = self
            .in_flight
            .acquire()
            .await
            .map_err(|_| LdapError::Connect {
                url: self.connector.url.clone(),
                reason: "the pool is closed".into(),
            })?;
        let slot = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut h = self.slots[slot].handle.lock().await;
        if let Some((_, ldap)) = h.as_mut()
            && ldap.is_closed()
        {
            *h = None;
        }
        if h.is_none() {
            let ldap = self.connector.open().await?;
            let g = self.generation.fetch_add(1, Ordering::Relaxed) as u64;
            if self.slots[slot].opened.swap(true, Ordering::Relaxed) {
                self.reconnects.fetch_add(1, Ordering::Relaxed);
            }
            *h = Some((g, ldap));
        }
        let (generation, ldap) =
            h.as_ref()
                .map(|(g, l)| (*g, l.clone()))
                .ok_or_else(|| LdapError::Connect {
                    url: self.connector.url.clone(),
                    reason: "no connection".into(),
                })?;
        drop(h);
        self.sent.fetch_add(1, Ordering::Relaxed);
        let mut ldap = ldap;
        ldap.with_timeout(self.connector.timeout);
        Ok(Lease {
            ldap,
            slot,
            generation,
            pool: self,
            _permit: permit,
        })
    }

    /// Connections opened again after one broke.
    pub fn reconnects(&self) -> usize {
        self.reconnects.load(Ordering::Relaxed)
    }

    /// Operations sent and operations answered so far.
    pub fn operations(&self) -> (u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.answered.load(Ordering::Relaxed),
        )
    }

    fn count(&self) {
        self.meter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .tick(Instant::now());
    }

    /// Operations completed per second, over the last few seconds.
    pub fn pace(&self) -> f64 {
        self.meter
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .rate(Instant::now())
    }
}

/// Operations completed per second, over a window of about
/// [`Meter::WINDOW`].
struct Meter {
    started: Instant,
    count: u64,
    last: f64,
}

impl Meter {
    const WINDOW: Duration = Duration::from_secs(2);

    fn new() -> Self {
        Meter {
            started: Instant::now(),
            count: 0,
            last: 0.0,
        }
    }

    fn tick(&mut self, now: Instant) {
        self.roll(now);
        self.count += 1;
    }

    fn roll(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.started);
        if elapsed >= Self::WINDOW {
            self.last = self.count as f64 / elapsed.as_secs_f64();
            self.started = now;
            self.count = 0;
        }
    }

    fn rate(&mut self, now: Instant) -> f64 {
        self.roll(now);
        let elapsed = now.saturating_duration_since(self.started).as_secs_f64();
        if self.count > 0 && elapsed > 0.0 && self.last == 0.0 {
            return self.count as f64 / elapsed;
        }
        self.last
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_meter_counts_per_second_over_its_window() {
        let t0 = Instant::now();
        let mut m = Meter {
            started: t0,
            count: 0,
            last: 0.0,
        };
        for i in 0..40 {
            m.tick(t0 + Duration::from_millis(50 * i));
        }
        // 40 in the first two seconds, read at the start of the next.
        let r = m.rate(t0 + Duration::from_secs(2));
        assert!((r - 20.0).abs() < 1e-9, "{r}");
        // Nothing since: the next window reads zero.
        assert_eq!(m.rate(t0 + Duration::from_secs(5)), 0.0);
    }
}
