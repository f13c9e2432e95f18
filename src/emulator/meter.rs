//! Metering, as Graph's identity service does it: what a request costs in
//! resource units (`--costs flat`: 1; `--costs graph`: Graph's table) and
//! whether it is a write; charging the app's limits ([`super::throttle`]:
//! the resource-unit limit of `--rate`, the write quota of `--write-rate`);
//! the scope and information a refusal names; and the throttling headers
//! of metered answers (`x-ms-resource-unit`,
//! `x-ms-throttle-limit-percentage` as `--level-header` says).
//!
//! A write is charged to both limits, and both debits stand even when one
//! of them refuses it (Graph: usage keeps counting while throttled). A
//! write refused by the write quota names `.../Write/...` and
//! `WriteLimitExceeded` (with the longer `Retry-After` should the
//! resource-unit limit refuse it too); one refused by the resource-unit
//! limit alone names `.../ReadWrite/...`, a read `.../Read/...`, both
//! `ResourceUnitLimitExceeded`. The level is the higher share in use of
//! the two limits after the request (a read peeks at the write quota
//! without charging it).

use hyper::Method;

use super::config::{Costs, EmulatorConfig, LevelHeader};
use super::paths::{Route, Tail};
use super::query::Query;
use super::state::State;
use super::stats::bump;
use super::throttle::Admit;

/// Graph's first `$top` that no longer lowers the cost.
const CHEAP_TOP: u32 = 20;

/// What a request costs in resource units: 1 under [`Costs::Flat`]; under
/// [`Costs::Graph`] a list read (`GET /users`, `memberOf`,
/// `transitiveMemberOf`, `ownedObjects`, role assignment and eligibility
/// lists) 2, any other request 1, then `$select` -1, `$expand` +1, `$top`
/// under 20 -1, and at least 1.
pub(crate) fn resource_units(costs: Costs, route: &Route, method: &Method, query: &Query) -> u32 {
    if costs == Costs::Flat {
        return 1;
    }
    let list = *method == Method::GET
        && matches!(
            route,
            Route::Users
                | Route::RoleAssignments
                | Route::RoleEligibility
                | Route::User {
                    tail: Tail::MemberOf { .. } | Tail::TransitiveMemberOf | Tail::OwnedObjects,
                    ..
                }
        );
    let mut cost: i32 = if list { 2 } else { 1 };
    if query.select.is_some() {
        cost -= 1;
    }
    if query.expand {
        cost += 1;
    }
    if query
        .top
        .as_deref()
        .and_then(|t| t.trim().parse::<u32>().ok())
        .is_some_and(|top| top < CHEAP_TOP)
    {
        cost -= 1;
    }
    u32::try_from(cost.max(1)).unwrap_or(1)
}

/// POST, PATCH, PUT and DELETE count against the write quota.
pub(crate) fn is_write(method: &Method) -> bool {
    [Method::POST, Method::PATCH, Method::PUT, Method::DELETE].contains(method)
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A read over the resource-unit limit.
    Read,
    /// A write over the resource-unit limit.
    ReadWrite,
    /// A write over the write quota.
    Write,
}

impl Refusal {
    /// The `<Read|Write|ReadWrite>` part of `x-ms-throttle-scope`.
    pub(crate) fn scope(self) -> &'static str {
        match self {
            Refusal::Read => "Read",
            Refusal::ReadWrite => "ReadWrite",
            Refusal::Write => "Write",
        }
    }

    /// `x-ms-throttle-information`.
    pub(crate) fn information(self) -> &'static str {
        match self {
            Refusal::Read | Refusal::ReadWrite => "ResourceUnitLimitExceeded",
            Refusal::Write => "WriteLimitExceeded",
        }
    }
}

/// What the app's limits said about one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Verdict {
    /// Go ahead; `level` is the higher share in use of the limits that are
    /// on (`None`: no limit is on).
    Admitted {
        level: Option<f64>,
    },
    Refused {
        retry_after: u64,
        by: Refusal,
    },
}

/// Charge a request of `cost` units (and one write if `write`) to `app`'s
/// limits now, counting it in the stats.
pub(crate) fn charge(state: &State, app: &str, cost: u32, write: bool) -> Verdict {
    charge_at(state, app, cost, write, state.elapsed())
}

/// [`charge`] at `now`, seconds since the emulator started.
pub(crate) fn charge_at(state: &State, app: &str, cost: u32, write: bool, now: f64) -> Verdict {
    let counters = &state.counters;
    counters
        .resource_units
        .fetch_add(u64::from(cost), std::sync::atomic::Ordering::Relaxed);
    if write {
        bump(&counters.writes);
    }
    let units = state
        .throttle
        .as_ref()
        .map(|t| t.charge_at(app, now, f64::from(cost)));
    let writes = state.write_quota.as_ref().map(|t| {
        if write {
            t.charge_at(app, now, 1.0)
        } else {
            Admit::Yes {
                used: t.used_at(app, now),
            }
        }
    });
    let wait = |a: Option<Admit>| match a {
        Some(Admit::No { retry_after }) => Some(retry_after),
        _ => None,
    };
    let used = |a: Option<Admit>| match a {
        Some(Admit::Yes { used }) => Some(used),
        _ => None,
    };
    let verdict = match (wait(units), wait(writes)) {
        (units_wait, Some(writes_wait)) => Verdict::Refused {
            retry_after: writes_wait.max(units_wait.unwrap_or(0)),
            by: Refusal::Write,
        },
        (Some(retry_after), None) => Verdict::Refused {
            retry_after,
            by: if write {
                Refusal::ReadWrite
            } else {
                Refusal::Read
            },
        },
        (None, None) => Verdict::Admitted {
            level: match (used(units), used(writes)) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            },
        },
    };
    if let Verdict::Refused { by, .. } = verdict {
        bump(&counters.throttled);
        bump(match by {
            Refusal::Read => &counters.throttled_read,
            Refusal::ReadWrite => &counters.throttled_readwrite,
            Refusal::Write => &counters.throttled_write,
        });
    }
    verdict
}

/// Where a metered answer goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Place {
    /// A request's own answer.
    Direct,
    /// An item of a `$batch` answer.
    Item,
    /// A `$batch` envelope (the highest level its items reached).
    Envelope,
}

/// The `x-ms-throttle-limit-percentage` value for `level` at `place`, if
/// the options send one there.
pub(crate) fn level_header(
    config: &EmulatorConfig,
    level: Option<f64>,
    place: Place,
) -> Option<String> {
    let on = config.level_header_on;
    let here = match place {
        Place::Direct => true,
        Place::Item => on.items(),
        Place::Envelope => on.envelope(),
    };
    let level = level.filter(|_| here)?;
    let send = match config.level_header {
        LevelHeader::Always => true,
        LevelHeader::Above80 => level >= 0.8,
        LevelHeader::Never => false,
    };
    send.then(|| format!("{level:.1}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::emulator::config::LevelHeaderOn;
    use crate::emulator::paths::route;
    use crate::emulator::testing::{FIXTURE, Harness};

    fn cost(costs: Costs, method: Method, url: &str) -> u32 {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        resource_units(costs, &route(path), &method, &Query::parse(Some(query)))
    }

    #[test]
    fn graph_costs_by_request_shape() {
        fn g(method: Method, url: &str) -> u32 {
            cost(Costs::Graph, method, url)
        }
        let id = "/users/8a1c0e2f-1b2c-4d3e-8f4a-5b6c7d8e9f01";
        // Lists cost 2, other reads 1.
        assert_eq!(g(Method::GET, "/users"), 2);
        for tail in ["transitiveMemberOf", "ownedObjects", "memberOf"] {
            assert_eq!(g(Method::GET, &format!("{id}/{tail}")), 2, "{tail}");
        }
        assert_eq!(
            g(
                Method::GET,
                &format!("{id}/memberOf/microsoft.graph.directoryRole")
            ),
            2
        );
        assert_eq!(
            g(
                Method::GET,
                "/roleManagement/directory/roleAssignments?$filter=principalId eq 'x'"
            ),
            2
        );
        assert_eq!(
            g(
                Method::GET,
                "/roleManagement/directory/roleEligibilityScheduleInstances?$filter=principalId eq 'x'"
            ),
            2
        );
        assert_eq!(g(Method::GET, id), 1);
        assert_eq!(
            g(Method::GET, "/roleManagement/directory/roleDefinitions/r"),
            1
        );
        assert_eq!(g(Method::GET, "/domains/contoso.com"), 1);
        // Writes cost 1.
        assert_eq!(g(Method::PATCH, id), 1);
        assert_eq!(g(Method::POST, &format!("{id}/revokeSignInSessions")), 1);
        assert_eq!(g(Method::DELETE, id), 1);
        // Modifiers, floor 1.
        assert_eq!(g(Method::GET, "/users?$select=id"), 1);
        assert_eq!(g(Method::GET, "/users?$expand=manager"), 3);
        assert_eq!(g(Method::GET, "/users?$top=5"), 1);
        assert_eq!(g(Method::GET, "/users?$top=19&$select=id"), 1);
        assert_eq!(g(Method::GET, "/users?$top=20"), 2);
        assert_eq!(g(Method::GET, "/users?$top=999&$select=id,displayName"), 1);
        assert_eq!(g(Method::GET, "/users?$top=x"), 2);
        assert_eq!(g(Method::GET, &format!("{id}?$select=id")), 1);
        assert_eq!(
            g(Method::GET, &format!("{id}?$select=id&$expand=manager")),
            1
        );
        assert_eq!(g(Method::GET, &format!("{id}?$expand=manager")), 2);
        assert_eq!(
            g(Method::GET, &format!("{id}/ownedObjects?$top=1&$select=id")),
            1
        );
        // Flat: everything 1.
        assert_eq!(cost(Costs::Flat, Method::GET, "/users?$expand=manager"), 1);
        assert_eq!(cost(Costs::Flat, Method::GET, "/users"), 1);
        assert!(is_write(&Method::PUT) && is_write(&Method::DELETE));
        assert!(!is_write(&Method::GET));
    }

    fn harness(config: EmulatorConfig) -> Harness {
        Harness::new(FIXTURE, config)
    }

    fn refused(v: Verdict) -> Option<(u64, Refusal)> {
        match v {
            Verdict::Admitted { .. } => None,
            Verdict::Refused { retry_after, by } => Some((retry_after, by)),
        }
    }

    #[test]
    fn write_quota_refuses_writes_while_reads_pass() {
        let h = harness(EmulatorConfig {
            rate: Some(100.0),
            write_rate: Some(1.0),
            write_burst: Some(2),
            ..EmulatorConfig::default()
        });
        let s = &h.state;
        assert_eq!(refused(charge_at(s, "a", 1, true, 0.0)), None);
        assert_eq!(refused(charge_at(s, "a", 1, true, 0.0)), None);
        assert_eq!(
            refused(charge_at(s, "a", 1, true, 0.0)),
            Some((2, Refusal::Write))
        );
        // Reads are not writes: they pass, reporting the full write quota.
        for _ in 0..5 {
            assert_eq!(
                charge_at(s, "a", 2, false, 0.0),
                Verdict::Admitted { level: Some(1.0) }
            );
        }
        // Another app has its own quota.
        assert_eq!(refused(charge_at(s, "b", 1, true, 0.0)), None);
        let stats = s.stats();
        assert_eq!(stats.writes, 4);
        assert_eq!(stats.resource_units, 3 + 10 + 1);
        assert_eq!((stats.throttled, stats.throttled_by_scope.write), (1, 1));
        // The refused write still debited the quota: a second later it
        // holds 0, not 1, and this write digs it to -1 again.
        assert_eq!(
            refused(charge_at(s, "a", 1, true, 1.0)),
            Some((2, Refusal::Write))
        );
    }

    #[test]
    fn resource_units_refuse_reads_and_writes_with_their_scope() {
        let h = harness(EmulatorConfig {
            rate: Some(1.0),
            burst: Some(3),
            write_rate: Some(10.0),
            ..EmulatorConfig::default()
        });
        let s = &h.state;
        assert_eq!(refused(charge_at(s, "a", 2, false, 0.0)), None);
        assert_eq!(
            refused(charge_at(s, "a", 2, false, 0.0)),
            Some((3, Refusal::Read))
        );
        assert_eq!(
            refused(charge_at(s, "a", 1, true, 0.0)),
            Some((3, Refusal::ReadWrite))
        );
        // Refused by both: the write quota is named, with the longer wait.
        let h = harness(EmulatorConfig {
            rate: Some(1.0),
            burst: Some(1),
            write_rate: Some(2.0),
            write_burst: Some(1),
            ..EmulatorConfig::default()
        });
        let s = &h.state;
        assert_eq!(refused(charge_at(s, "a", 1, true, 0.0)), None);
        assert_eq!(
            refused(charge_at(s, "a", 3, true, 0.0)),
            Some((2, Refusal::Write))
        );
        let by = s.stats().throttled_by_scope;
        assert_eq!((by.read, by.readwrite, by.write), (0, 0, 1));
    }

    #[test]
    fn windowed_limits_count_each_their_own() {
        let h = harness(EmulatorConfig {
            rate: Some(1.0),
            write_rate: Some(0.5),
            window_secs: Some(4),
            ..EmulatorConfig::default()
        });
        let s = &h.state;
        // 4 units and 2 writes per 4 s window.
        assert_eq!(refused(charge_at(s, "a", 1, true, 0.0)), None);
        assert_eq!(refused(charge_at(s, "a", 1, true, 1.0)), None);
        assert_eq!(
            refused(charge_at(s, "a", 1, true, 1.5)),
            Some((3, Refusal::Write))
        );
        // Units: 3 of 4 used; a 2-unit read does not fit.
        assert_eq!(
            refused(charge_at(s, "a", 2, false, 3.5)),
            Some((1, Refusal::Read))
        );
        assert_eq!(
            charge_at(s, "a", 2, false, 4.0),
            Verdict::Admitted { level: Some(0.5) }
        );
    }

    #[test]
    fn level_header_modes() {
        let c = |level_header, level_header_on| EmulatorConfig {
            level_header,
            level_header_on,
            ..EmulatorConfig::default()
        };
        let all = [Place::Direct, Place::Item, Place::Envelope];
        let shown = |config: &EmulatorConfig, level| all.map(|p| level_header(config, level, p));
        let default = EmulatorConfig::default();
        let text = |t: &str| Some(t.to_owned());
        assert_eq!(
            shown(&default, Some(0.9)),
            [text("0.9"), text("0.9"), text("0.9")]
        );
        assert_eq!(
            shown(&default, Some(0.8)),
            [text("0.8"), text("0.8"), text("0.8")]
        );
        assert_eq!(shown(&default, Some(0.5)), [None, None, None]);
        assert_eq!(shown(&default, None), [None, None, None]);
        let always = c(LevelHeader::Always, LevelHeaderOn::Both);
        assert_eq!(
            shown(&always, Some(0.3)),
            [text("0.3"), text("0.3"), text("0.3")]
        );
        assert_eq!(shown(&always, None), [None, None, None]);
        let never = c(LevelHeader::Never, LevelHeaderOn::Both);
        assert_eq!(shown(&never, Some(1.0)), [None, None, None]);
        let items = c(LevelHeader::Above80, LevelHeaderOn::Items);
        assert_eq!(shown(&items, Some(1.0)), [text("1.0"), text("1.0"), None]);
        let envelope = c(LevelHeader::Always, LevelHeaderOn::Envelope);
        assert_eq!(
            shown(&envelope, Some(0.9)),
            [text("0.9"), None, text("0.9")]
        );
    }
}
