//! The run's rate limits, shared by every worker: Graph's two budgets per
//! app and tenant, each an adaptive [`Budget`].
//!
//! - **Resource units.** Every request (or `$batch` item) costs units by
//!   Graph's published table ([`cost`]): a GET of one object 1, a list 2,
//!   `$select` one less (never below 1), a write 1. The answer's
//!   `x-ms-resource-unit` corrects the estimate when it is sent.
//! - **Writes.** POST, PATCH, PUT and DELETE also draw from a separate
//!   quota, which Graph publishes as 3,000 writes per 150 s per app and
//!   tenant: the budget starts from it ([`WRITE_RATE`], [`WRITE_BURST`])
//!   and learns the real one from refusals. Writes bind first: a run that
//!   resets passwords spends its write quota long before its units.
//!
//! A 429 says which budget refused through `x-ms-throttle-scope`
//! (`…/Write/…` pauses and cuts only the writes; `Read`, `ReadWrite` or no
//! scope, the units, which writes need too), so a throttled write quota
//! does not stop the reads of the users still to be checked.

mod budget;

use std::time::Duration;

use reqwest::Method;

pub use budget::{Budget, EPOCH, HOLD, LEVEL_HIGH, MAX_PAUSE, MIN_RATE};

use crate::graph::GraphRequest;
use crate::graph::error::ThrottleScope;

/// Graph's published write quota per app and tenant: 3,000 writes per
/// 150 s, i.e. 20 a second with the whole window's worth at once.
pub const WRITE_RATE: f64 = 20.0;
pub const WRITE_BURST: f64 = 3000.0;

/// Which budgets a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Units only.
    Read,
    /// Units and the write quota.
    Write,
}

impl Class {
    /// A GET is a read; anything else writes.
    pub fn of(req: &GraphRequest) -> Class {
        if req.method == Method::GET {
            Class::Read
        } else {
            Class::Write
        }
    }
}

/// The resource units Graph's identity service charges for `req`, by its
/// published table: GET of a list 2 (a collection, or a user's relation
/// such as `transitiveMemberOf`), any other GET 1, a write 1; `$select`
/// takes one off, `$expand` adds one, `$top` under 20 takes one off; never
/// below 1.
pub fn cost(req: &GraphRequest) -> u32 {
    if req.method != Method::GET {
        return 1;
    }
    let (path, query) = req.path.split_once('?').unwrap_or((&req.path, ""));
    let mut units: i32 = if is_list(path) { 2 } else { 1 };
    for pair in query.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "$select" => units -= 1,
            "$expand" => units += 1,
            "$top" if value.parse::<u32>().is_ok_and(|n| n < 20) => units -= 1,
            _ => {}
        }
    }
    u32::try_from(units.max(1)).unwrap_or(1)
}

/// Whether a path (without its query) addresses a collection: its last
/// segment is not an object id, or it is one of a user's relations.
fn is_list(path: &str) -> bool {
    let path = path.trim_end_matches('/');
    let last = path.rsplit('/').next().unwrap_or("");
    let segments = path.split('/').filter(|s| !s.is_empty()).count();
    match last {
        // `/users/{id}`, `/domains/{name}`, `/roleManagement/directory/roleDefinitions/{id}`
        _ if segments >= 2 && looks_like_key(last) => false,
        _ => true,
    }
}

/// An object id or a name that addresses one object (a GUID, a UPN, a
/// domain name).
fn looks_like_key(segment: &str) -> bool {
    uuid::Uuid::try_parse(segment).is_ok() || segment.contains('@') || segment.contains('.')
}

/// Both budgets.
#[derive(Debug)]
pub struct Limiter {
    units: Budget,
    writes: Budget,
}

impl Limiter {
    /// `max_rate`: ceiling of each budget per second (`None`: the service's
    /// answers find the rates).
    pub fn new(max_rate: Option<f64>) -> Self {
        Limiter {
            units: Budget::new(max_rate),
            writes: Budget::with_prior(WRITE_RATE, WRITE_BURST, max_rate),
        }
    }

    /// Waits until a call of `class` may be sent and reserves its size, up
    /// to `max` units (a read call) or `max` writes (a write call, which
    /// also takes one unit per write). See [`Budget::reserve`].
    pub async fn reserve(&self, class: Class, max: u32) -> u32 {
        match class {
            Class::Read => self.units.reserve(max).await,
            Class::Write => {
                let n = self.writes.reserve(max).await;
                self.take_units(n).await;
                n
            }
        }
    }

    /// Takes exactly `n` units (a write call's own units, or what a call
    /// costs beyond what was reserved), waiting for each part the budget
    /// hands out: writes obey the units' slow start and pauses too.
    pub async fn take_units(&self, n: u32) {
        let mut left = n;
        while left > 0 {
            left -= self.units.reserve(left).await.min(left);
        }
    }

    /// Gives back reserved units (or writes, with their units) not sent.
    pub fn refund(&self, class: Class, n: u32) {
        if n == 0 {
            return;
        }
        if class == Class::Write {
            self.writes.refund(n);
        }
        self.units.refund(n);
    }

    /// One item of `class` that was reserved at `reserved` units succeeded;
    /// `charged` is the service's `x-ms-resource-unit`, `level` its
    /// `x-ms-throttle-limit-percentage`.
    pub fn on_success(
        &self,
        class: Class,
        reserved: u32,
        charged: Option<f64>,
        level: Option<f64>,
    ) {
        // What the service charged is what succeeded: slow start must not
        // count units it was not charged.
        let mut units = reserved.max(1);
        if let Some(c) = charged.filter(|c| c.is_finite() && *c >= 0.0 && *c <= 100.0) {
            #[expect(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                reason = "rounded, within 0..=100"
            )]
            let c = c.round() as u32;
            if c < units {
                self.units.refund(units - c);
            } else if c > units {
                self.units.charge(c - units);
            }
            units = c.max(1);
        }
        // Which limit a level speaks of is not documented: it is taken as
        // the write quota's while writes wait for their budget and the
        // units do not (writes bind first), else as the units'.
        let writes_level = self.writes.is_starved() && !self.units.is_starved();
        let (units_level, write_level) = if writes_level {
            (None, level)
        } else {
            (level, None)
        };
        self.units.on_success(units, units_level);
        if class == Class::Write {
            self.writes.on_success(1, write_level);
        } else if write_level.is_some() {
            self.writes.observe_level(write_level);
        }
    }

    /// Items of `class` were answered with an error other than a 429.
    pub fn on_failed(&self, class: Class, units: u32, items: u32) {
        self.units.on_failed(units);
        if class == Class::Write {
            self.writes.on_failed(items);
        }
    }

    /// A call of `class` was refused: pause and cut the budget the scope
    /// names. Returns the pause in force for that class.
    pub fn on_throttled(
        &self,
        class: Class,
        scope: Option<ThrottleScope>,
        retry_after: Option<Duration>,
    ) -> Duration {
        match (class, scope) {
            (Class::Write, Some(ThrottleScope::Write)) => self.writes.on_throttled(retry_after),
            _ => self.units.on_throttled(retry_after),
        }
    }

    /// The units' rate per second and the longest pause in force.
    pub fn status(&self) -> (f64, Duration) {
        let (rate, pause) = self.units.status();
        let (_, writes_pause) = self.writes.status();
        (rate, pause.max(writes_pause))
    }

    /// The write quota's rate per second now.
    pub fn write_rate(&self) -> f64 {
        self.writes.status().0
    }

    /// Time each budget spent paused (units, writes).
    pub fn paused(&self) -> (Duration, Duration) {
        (self.units.paused_total(), self.writes.paused_total())
    }
}

#[cfg(test)]
mod tests;
