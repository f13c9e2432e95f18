//! [`State`]: everything one emulator instance holds (the directory,
//! token keys, counters, throttling limits, fault generator), shared by all
//! connections behind an `Arc`.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::clock;
use super::config::{EmulatorConfig, EmulatorError};
use super::directory::Directory;
use super::faults::Faults;
use super::ids::IdGen;
use super::jwt::Tokens;
use super::response::Ids;
use super::seed;
use super::stats::{Counters, Stats};
use super::throttle::{Limit, Throttle};
use super::tls::ServerTls;
use super::view::UserView;

/// One emulator's state. Build it with [`State::new`] and pass it to
/// [`super::serve`], or let [`super::start`] do both.
#[derive(Debug)]
pub struct State {
    pub(crate) config: EmulatorConfig,
    pub(crate) directory: Directory,
    pub(crate) tokens: Tokens,
    pub(crate) counters: Counters,
    /// The resource-unit limit (`--rate`).
    pub(crate) throttle: Option<Throttle>,
    /// The write quota (`--write-rate`).
    pub(crate) write_quota: Option<Throttle>,
    /// Time zero of the limits (fixed windows are aligned to it).
    started: Instant,
    /// Unit tests stop the limits' clock at this second, so that nothing
    /// refills between their requests.
    #[cfg(test)]
    pub(crate) frozen_at: Option<f64>,
    pub(crate) faults: Faults,
    pub(crate) ids: IdGen,
    /// Numbers `$batch` requests, to seed each one's response shuffle.
    pub(crate) batches: AtomicU64,
    /// The https acceptor, when the config names a certificate.
    pub(crate) tls: Option<ServerTls>,
    base_url: OnceLock<String>,
}

impl State {
    /// Check `config` and seed the directory.
    ///
    /// # Errors
    ///
    /// A bad option, or a seed CSV with problems (see [`EmulatorError`]).
    pub fn new(config: EmulatorConfig) -> Result<Self, EmulatorError> {
        config.validate()?;
        let tls = config.tls.as_ref().map(ServerTls::load).transpose()?;
        let directory = seed::seed(&config, clock::now())?;
        let mut salt = [0u8; 8];
        rand::RngExt::fill(&mut rand::rng(), &mut salt[..]);
        Ok(State {
            tokens: Tokens::new(
                &config.tenant_id,
                config.token_ttl_secs,
                config.roles.clone(),
            ),
            throttle: config
                .effective_burst()
                .map(|(rate, burst)| Throttle::with_limit(limit(rate, burst, config.window_secs))),
            write_quota: config
                .effective_write_burst()
                .map(|(rate, burst)| Throttle::with_limit(limit(rate, burst, config.window_secs))),
            started: Instant::now(),
            #[cfg(test)]
            frozen_at: None,
            faults: Faults::new(
                config.fail_rate,
                config.reset_rate,
                config.slow_rate,
                config.seed,
            )
            .with_gateway_timeouts(config.gateway_timeout_rate),
            ids: IdGen::new(u64::from_le_bytes(salt)),
            counters: Counters::default(),
            batches: AtomicU64::new(0),
            base_url: OnceLock::new(),
            tls,
            directory,
            config,
        })
    }

    #[must_use]
    pub fn tenant_id(&self) -> &str {
        &self.config.tenant_id
    }

    #[must_use]
    pub fn tenant_domain(&self) -> &str {
        &self.config.tenant_domain
    }

    #[must_use]
    pub fn config(&self) -> &EmulatorConfig {
        &self.config
    }

    /// How many users the directory holds.
    #[must_use]
    pub fn user_count(&self) -> usize {
        self.directory.len()
    }

    /// The counters, as `GET /_stats` returns them.
    #[must_use]
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// Every user, as `GET /_users` returns them.
    #[must_use]
    pub fn users_snapshot(&self) -> Vec<UserView> {
        self.users_matching(None)
    }

    /// The user whose UPN is `upn` (case-insensitively), or all users.
    pub(crate) fn users_matching(&self, upn: Option<&str>) -> Vec<UserView> {
        let dir = &self.directory;
        match upn {
            Some(upn) => dir.find_upn(upn).map(|u| dir.view(u)).into_iter().collect(),
            None => dir.users().iter().map(|u| dir.view(u)).collect(),
        }
    }

    /// Restore the seeded users and zero every counter (`POST /_reset`).
    pub fn reset(&self) {
        self.directory.reset();
        self.counters.reset();
        for t in [&self.throttle, &self.write_quota].into_iter().flatten() {
            t.reset();
        }
        self.faults.reset();
        self.batches.store(0, Ordering::Relaxed);
    }

    /// Seconds since the emulator started: the limits' clock.
    pub(crate) fn elapsed(&self) -> f64 {
        #[cfg(test)]
        if let Some(now) = self.frozen_at {
            return now;
        }
        self.started.elapsed().as_secs_f64()
    }

    /// Record the address the emulator serves on (first one wins).
    pub(crate) fn set_addr(&self, addr: SocketAddr) {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let _ = self.base_url.set(format!("{scheme}://{addr}"));
    }

    /// `http://127.0.0.1:PORT` (or `https://`), no trailing slash: the root of `@odata`
    /// links and the accepted `<root>/.default` scope.
    pub(crate) fn base_url(&self) -> &str {
        self.base_url
            .get()
            .map_or("http://127.0.0.1", String::as_str)
    }

    /// Fresh ids for a request that sent `client_request_id` (if any).
    pub(crate) fn new_ids(&self, client_request_id: Option<&[u8]>) -> Ids {
        let request_id = self.ids.next().to_string();
        let client_request_id = client_request_id
            .and_then(|v| std::str::from_utf8(v).ok())
            .map(str::trim)
            .filter(|v| !v.is_empty() && v.len() <= 256 && v.bytes().all(|b| b.is_ascii_graphic()))
            .map_or_else(|| request_id.clone(), str::to_owned);
        Ids {
            request_id,
            client_request_id,
        }
    }
}

/// A token bucket, or with `window` seconds a fixed window allowing
/// `rate * window`.
fn limit(rate: f64, burst: f64, window: Option<u32>) -> Limit {
    match window {
        Some(seconds) => Limit::Window {
            units: rate * f64::from(seconds),
            seconds: f64::from(seconds),
        },
        None => Limit::Bucket { rate, burst },
    }
}
