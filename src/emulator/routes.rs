//! Graph request handling shared by direct requests and `$batch` items:
//! the path ([`super::paths`]) and query parsed, then one pipeline (count,
//! meter and throttle ([`super::meter`]), fault, dispatch to the handlers: [`super::users`],
//! [`super::memberships`], [`super::role_management`], [`super::domains`])
//! so that an item behaves exactly like the same request sent on its own;
//! and the per-user count of write attempts.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;

use super::config::EmulatorConfig;
use super::ctx::Ctx;
use super::faults::{Fault, Scope};
use super::jwt::Principal;
use super::memberships::{self, List};
use super::meter::{self, Place, Verdict};
use super::paths::{Route, Tail, route};
use super::query::Query;
use super::response::{Ids, Reply, graph_error, throttled};
use super::state::State;
use super::stats::bump;
use super::{domains, role_management, users};
use crate::graph::permissions::Operation;

/// Lets a handler close its own connection without answering (the
/// per-connection task waits on it).
#[derive(Debug, Clone, Default)]
pub(crate) struct Kill(Arc<Notify>);

impl Kill {
    pub(crate) fn fire(&self) {
        // `notify_one` stores a permit if the connection task is not
        // waiting at this instant, so the signal is never lost.
        self.0.notify_one();
    }

    pub(crate) async fn fired(&self) {
        self.0.notified().await;
    }
}

/// Count a PATCH of a user or a revocation of its sessions as a write
/// attempt on that user, before anything else happens to the request (so
/// 401s, 403s, 429s, faults and a batch's 424s count too).
pub(crate) fn note_write_attempt(state: &State, method: &Method, path: &str) {
    let key = match route(path) {
        Route::User {
            key,
            tail: Tail::Entity,
        } if *method == Method::PATCH => key,
        Route::User {
            key,
            tail: Tail::Revoke,
        } if *method == Method::POST => key,
        _ => return,
    };
    if let Some(user) = state.directory.find(&key) {
        let mut s = user.state();
        s.write_attempts = s.write_attempts.saturating_add(1);
    }
}

/// One Graph request, from the wire or from a batch item.
pub(crate) struct Call<'a> {
    pub method: &'a Method,
    /// The path below `/v1.0`, still percent-encoded.
    pub path: &'a str,
    pub query: Option<&'a str>,
    /// The JSON body: `None` without one, `Err` when it is not JSON.
    pub body: Option<Result<Value, ()>>,
    pub ids: Ids,
}

/// A request either gets an answer or loses its connection.
#[derive(Debug)]
pub(crate) enum Outcome {
    Reply(Reply),
    Dropped,
}

/// Run one Graph request through counting, throttling, faults and its
/// handler. `kill` closes the connection for dropped-connection faults
/// (items have none: their scope never drops).
pub(crate) async fn execute(
    state: &State,
    principal: &Principal,
    call: &Call<'_>,
    scope: Scope,
    kill: Option<&Kill>,
) -> Outcome {
    execute_metered(state, principal, call, scope, kill).await.0
}

/// [`execute`], also returning the throttling level the request left
/// behind (`None`: refused, or no limit is on), for a `$batch` envelope.
pub(crate) async fn execute_metered(
    state: &State,
    principal: &Principal,
    call: &Call<'_>,
    scope: Scope,
    kill: Option<&Kill>,
) -> (Outcome, Option<f64>) {
    let route = route(call.path);
    let query = Query::parse(call.query);
    let patch = (*call.method == Method::PATCH).then(|| users::parse_patch(call.body.as_ref()));
    count_operations(state, &route, call.method, patch.as_ref());
    let mut metering = Metering {
        config: &state.config,
        cost: meter::resource_units(state.config.costs, &route, call.method, &query),
        level: None,
        place: if scope == Scope::Item {
            Place::Item
        } else {
            Place::Direct
        },
    };
    let write = meter::is_write(call.method);
    match meter::charge(state, &principal.app_id, metering.cost, write) {
        Verdict::Admitted { level } => metering.level = level,
        Verdict::Refused { retry_after, by } => {
            let scope = format!(
                "Tenant_Application/{}/{}/{}",
                by.scope(),
                principal.app_id,
                state.config.tenant_id
            );
            let reply = throttled(retry_after, &scope, by.information(), &call.ids);
            return (Outcome::Reply(metering.apply(reply)), None);
        }
    }
    let level = metering.level;
    let fault = state.faults.decide(scope);
    let counters = &state.counters;
    match fault {
        Fault::Error500 => {
            bump(&counters.error_500);
            let reply = graph_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "UnknownError",
                "An internal server error occurred. Please retry the request.",
                &call.ids,
            );
            return (Outcome::Reply(metering.apply(reply)), level);
        }
        Fault::Error503 { retry_after } => {
            bump(&counters.error_503);
            let mut reply = graph_error(
                StatusCode::SERVICE_UNAVAILABLE,
                "serviceNotAvailable",
                "The service is temporarily unavailable. Please retry after a short delay.",
                &call.ids,
            );
            if retry_after {
                reply = reply.with_header("Retry-After", "1");
            }
            return (Outcome::Reply(metering.apply(reply)), level);
        }
        Fault::GatewayTimeout { applied: false } => {
            bump(&counters.gateway_timeout);
            let reply = gateway_timeout(&call.ids);
            return (Outcome::Reply(metering.apply(reply)), level);
        }
        Fault::DropBefore => {
            bump(&counters.dropped_before_apply);
            if let Some(kill) = kill {
                kill.fire();
            }
            return (Outcome::Dropped, level);
        }
        Fault::None | Fault::Slow | Fault::DropAfter | Fault::GatewayTimeout { applied: true } => {}
    }
    let ctx = Ctx {
        state,
        principal,
        ids: &call.ids,
    };
    let reply = metering.apply(dispatch(&ctx, &route, call, &query, patch));
    match fault {
        Fault::Slow => {
            bump(&counters.slow);
            tokio::time::sleep(state.config.slow).await;
        }
        Fault::DropAfter => {
            bump(&counters.dropped_after_apply);
            if let Some(kill) = kill {
                kill.fire();
            }
            return (Outcome::Dropped, level);
        }
        Fault::GatewayTimeout { applied: true } => {
            bump(&counters.gateway_timeout);
            bump(&counters.gateway_timeout_after_apply);
            let reply = gateway_timeout(&call.ids);
            return (Outcome::Reply(metering.apply(reply)), level);
        }
        _ => {}
    }
    (Outcome::Reply(reply), level)
}

/// Graph's 504: the gateway gave up waiting; the change may or may not
/// have been made.
fn gateway_timeout(ids: &Ids) -> Reply {
    graph_error(
        StatusCode::GATEWAY_TIMEOUT,
        "GatewayTimeout",
        "The operation timed out before the service answered; it may or may not have been completed.",
        ids,
    )
}

/// The throttling headers a metered answer gets.
struct Metering<'a> {
    config: &'a EmulatorConfig,
    /// Resource units charged (`x-ms-resource-unit`).
    cost: u32,
    /// The level after admission, if admitted while a limit is on.
    level: Option<f64>,
    place: Place,
}

impl Metering<'_> {
    fn apply(&self, reply: Reply) -> Reply {
        let reply = reply.with_header("x-ms-resource-unit", self.cost.to_string());
        match meter::level_header(self.config, self.level, self.place) {
            Some(level) => reply.with_header("x-ms-throttle-limit-percentage", level),
            None => reply,
        }
    }
}

fn count_operations(
    state: &State,
    route: &Route,
    method: &Method,
    patch: Option<&Result<users::Patch, (&'static str, String)>>,
) {
    let counters = &state.counters;
    match (route, method) {
        (
            Route::Users
            | Route::User {
                tail: Tail::Entity, ..
            },
            &Method::GET,
        ) => {
            counters.op(Operation::ReadUser);
        }
        (
            Route::User {
                tail: Tail::Revoke, ..
            },
            &Method::POST,
        ) => {
            counters.op(Operation::RevokeSessions);
        }
        (
            Route::User {
                tail: Tail::MemberOf { .. },
                ..
            },
            &Method::GET,
        ) => {
            counters.op(Operation::ListDirectoryRoles);
        }
        (
            Route::User {
                tail: Tail::TransitiveMemberOf,
                ..
            },
            &Method::GET,
        ) => counters.op(Operation::ListMemberships),
        (
            Route::User {
                tail: Tail::OwnedObjects,
                ..
            },
            &Method::GET,
        ) => counters.op(Operation::ListOwnedObjects),
        (Route::RoleAssignments, &Method::GET) => counters.op(Operation::ListRoleAssignments),
        (Route::RoleEligibility, &Method::GET) => counters.op(Operation::ListRoleEligibility),
        (Route::RoleDefinition { .. }, &Method::GET) => {
            counters.op(Operation::ReadRoleDefinition);
        }
        (Route::Domain { .. }, &Method::GET) => counters.op(Operation::ReadDomain),
        (
            Route::User {
                tail: Tail::Entity, ..
            },
            &Method::PATCH,
        ) => {
            if let Some(Ok(patch)) = patch {
                for op in patch.operations() {
                    counters.op(op);
                }
            }
        }
        _ => {}
    }
}

fn dispatch(
    ctx: &Ctx<'_>,
    route: &Route,
    call: &Call<'_>,
    query: &Query,
    patch: Option<Result<users::Patch, (&'static str, String)>>,
) -> Reply {
    let ids = &call.ids;
    if let Some(option) = &query.unsupported {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            &format!("The emulator does not support the query option '{option}'."),
            ids,
        );
    }
    if query.filter.is_some() && !matches!(route, Route::RoleAssignments | Route::RoleEligibility) {
        return graph_error(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "The emulator does not support the query option '$filter'.",
            ids,
        );
    }
    let method = call.method;
    let get = *method == Method::GET;
    match route {
        Route::Unknown { segment } => graph_error(
            StatusCode::NOT_FOUND,
            "BadRequest",
            &format!("Resource not found for the segment '{segment}'."),
            ids,
        ),
        Route::Users if *method == Method::GET => users::list(ctx, query),
        Route::User {
            key,
            tail: Tail::Entity,
        } if *method == Method::GET => users::read(ctx, key, query),
        Route::User {
            key,
            tail: Tail::Entity,
        } if *method == Method::PATCH => match patch {
            Some(Ok(patch)) => users::update(ctx, key, &patch),
            Some(Err((code, message))) => graph_error(StatusCode::BAD_REQUEST, code, &message, ids),
            None => graph_error(
                StatusCode::BAD_REQUEST,
                "BadRequest",
                "Empty Payload. JSON content expected.",
                ids,
            ),
        },
        Route::User {
            key,
            tail: Tail::Revoke,
        } if *method == Method::POST => users::revoke(ctx, key),
        Route::User {
            key,
            tail: Tail::MemberOf { roles_only },
        } if get => {
            let list = if *roles_only {
                List::DirectoryRoles
            } else {
                List::MemberOf
            };
            memberships::list(ctx, key, list, query)
        }
        Route::User {
            key,
            tail: Tail::TransitiveMemberOf,
        } if get => memberships::list(ctx, key, List::Transitive, query),
        Route::User {
            key,
            tail: Tail::OwnedObjects,
        } if get => memberships::list(ctx, key, List::Owned, query),
        Route::RoleAssignments if get => role_management::role_assignments(ctx, query),
        Route::RoleEligibility if get => role_management::role_eligibility(ctx, query),
        Route::RoleDefinition { id } if get => role_management::role_definition(ctx, id, query),
        Route::Domain { name } if get => domains::read(ctx, name, query),
        _ => graph_error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Request_BadRequest",
            "Specified HTTP method is not allowed for the request target.",
            ids,
        ),
    }
}

#[cfg(test)]
mod tests {
    use hyper::StatusCode;
    use serde_json::{Value, json};

    use crate::emulator::config::{Costs, EmulatorConfig, LevelHeader, LevelHeaderOn};
    use crate::emulator::meter::{Place, level_header};
    use crate::emulator::testing::{APP, FIXTURE, Harness};

    fn harness(config: EmulatorConfig) -> Harness {
        Harness::new(FIXTURE, config)
    }

    fn enable() -> Option<Value> {
        Some(json!({"accountEnabled": true}))
    }

    fn scope(h: &Harness, kind: &str) -> String {
        format!(
            "Tenant_Application/{kind}/{APP}/{}",
            h.state.config.tenant_id
        )
    }

    #[tokio::test]
    async fn whole_request_429s_name_the_limit_that_refused() {
        let h = harness(EmulatorConfig {
            rate: Some(100.0),
            write_rate: Some(0.5),
            write_burst: Some(1),
            ..EmulatorConfig::default()
        });
        let user = "/users/plain@contoso.com";
        let first = h.call("PATCH", user, enable()).await;
        assert!(first.status.is_success(), "{:?}", first.body);
        let second = h.call("PATCH", user, enable()).await;
        assert_eq!(second.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(second.code(), "TooManyRequests");
        assert_eq!(
            second.header("x-ms-throttle-scope"),
            Some(&*scope(&h, "Write"))
        );
        assert_eq!(
            second.header("x-ms-throttle-information"),
            Some("WriteLimitExceeded")
        );
        // 0 left, -1 after the refusal: 1 again in 4 s at 0.5/s.
        assert_eq!(second.header("Retry-After"), Some("4"));
        // Reads pass while writes are refused.
        let read = h.call("GET", user, None).await;
        assert_eq!(read.status, StatusCode::OK);
        assert_eq!(read.header("x-ms-resource-unit"), Some("1"));

        let h = harness(EmulatorConfig {
            rate: Some(1.0),
            burst: Some(1),
            ..EmulatorConfig::default()
        });
        assert_eq!(h.call("GET", user, None).await.status, StatusCode::OK);
        let read = h.call("GET", user, None).await;
        assert_eq!(read.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            read.header("x-ms-throttle-scope"),
            Some(&*scope(&h, "Read"))
        );
        assert_eq!(
            read.header("x-ms-throttle-information"),
            Some("ResourceUnitLimitExceeded")
        );
        let write = h.call("PATCH", user, enable()).await;
        assert_eq!(write.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            write.header("x-ms-throttle-scope"),
            Some(&*scope(&h, "ReadWrite"))
        );
        let by = h.state.stats().throttled_by_scope;
        assert_eq!((by.read, by.readwrite, by.write), (1, 1, 0));
    }

    #[tokio::test]
    async fn batch_items_are_refused_by_the_write_quota_alone() {
        let h = harness(EmulatorConfig {
            rate: Some(100.0),
            write_rate: Some(1.0),
            write_burst: Some(2),
            ..EmulatorConfig::default()
        });
        let answered = h
            .batch(json!([
                {"id": "1", "method": "PATCH", "url": "/users/plain@contoso.com", "headers": {"Content-Type": "application/json"}, "body": {"accountEnabled": true}},
                {"id": "2", "method": "PATCH", "url": "/users/custom@contoso.com", "headers": {"Content-Type": "application/json"}, "body": {"accountEnabled": true}},
                {"id": "3", "method": "POST", "url": "/users/fed@fabrikam.com/revokeSignInSessions"},
                {"id": "4", "method": "GET", "url": "/users/plain@contoso.com"},
                {"id": "5", "method": "GET", "url": "/users?$top=5"},
            ]))
            .await;
        let items = &answered.responses;
        let status = |id: &str| {
            items.iter().find(|i| i["id"] == id).unwrap()["status"]
                .as_u64()
                .unwrap()
        };
        let refused: Vec<&Value> = items.iter().filter(|i| i["status"] == 429).collect();
        assert_eq!(refused.len(), 1, "{items:?}");
        let headers = &refused[0]["headers"];
        assert_eq!(headers["x-ms-throttle-scope"], scope(&h, "Write"));
        assert_eq!(headers["x-ms-throttle-information"], "WriteLimitExceeded");
        assert_eq!(headers["Retry-After"], "2");
        assert_eq!((status("4"), status("5")), (200, 200));
        let stats = h.state.stats();
        assert_eq!((stats.writes, stats.throttled_by_scope.write), (3, 1));
        assert_eq!(stats.resource_units, 5);
    }

    #[tokio::test]
    async fn graph_costs_are_charged_and_shown() {
        let h = harness(EmulatorConfig {
            rate: Some(1.0),
            burst: Some(4),
            costs: Costs::Graph,
            ..EmulatorConfig::default()
        });
        let list = h.call("GET", "/users", None).await;
        assert_eq!(list.header("x-ms-resource-unit"), Some("2"));
        let one = h.call("GET", "/users?$select=id", None).await;
        assert_eq!(one.header("x-ms-resource-unit"), Some("1"));
        // 1 unit left: a 2-unit list is refused, a 1-unit read is not.
        let id = h.id("plain@contoso.com");
        let refused = h.call("GET", &format!("/users/{id}/memberOf"), None).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(refused.header("x-ms-resource-unit"), Some("2"));
        assert_eq!(h.state.stats().resource_units, 5);
    }

    #[tokio::test]
    async fn level_header_modes_on_requests_items_and_envelopes() {
        let config = |level_header, level_header_on| EmulatorConfig {
            rate: Some(1.0),
            burst: Some(10),
            level_header,
            level_header_on,
            ..EmulatorConfig::default()
        };
        let gets: Vec<Value> = (1..=9)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/plain@contoso.com"}))
            .collect();
        let shown = |items: &[Value]| {
            items
                .iter()
                .filter(|i| i["headers"].get("x-ms-throttle-limit-percentage").is_some())
                .count()
        };
        // Items only: the two items past 80% carry it, the envelope not.
        let h = harness(config(LevelHeader::Above80, LevelHeaderOn::Items));
        let a = h.batch(json!(gets)).await;
        assert_eq!(shown(&a.responses), 2);
        assert_eq!(
            level_header(&h.state.config, a.level, Place::Envelope),
            None
        );
        // Envelope only: the highest level, none on the items.
        let h = harness(config(LevelHeader::Above80, LevelHeaderOn::Envelope));
        let a = h.batch(json!(gets)).await;
        assert_eq!(shown(&a.responses), 0);
        assert_eq!(
            level_header(&h.state.config, a.level, Place::Envelope).as_deref(),
            Some("0.9")
        );
        // A request on its own still carries it.
        let one = h.call("GET", "/users/plain@contoso.com", None).await;
        assert_eq!(one.header("x-ms-throttle-limit-percentage"), Some("1.0"));
        // Always: every item; never: none.
        let h = harness(config(LevelHeader::Always, LevelHeaderOn::Both));
        let a = h.batch(json!(gets)).await;
        assert_eq!(shown(&a.responses), 9);
        let h = harness(config(LevelHeader::Never, LevelHeaderOn::Both));
        let a = h.batch(json!(gets)).await;
        assert_eq!(shown(&a.responses), 0);
        assert_eq!(
            level_header(&h.state.config, a.level, Place::Envelope),
            None
        );
        let one = h.call("GET", "/users/plain@contoso.com", None).await;
        assert_eq!(one.header("x-ms-throttle-limit-percentage"), None);
        // The level is the higher of the two limits.
        let h = harness(EmulatorConfig {
            write_rate: Some(1.0),
            write_burst: Some(2),
            level_header: LevelHeader::Always,
            ..config(LevelHeader::Always, LevelHeaderOn::Both)
        });
        h.call("PATCH", "/users/plain@contoso.com", enable()).await;
        let read = h.call("GET", "/users/plain@contoso.com", None).await;
        assert_eq!(read.header("x-ms-throttle-limit-percentage"), Some("0.5"));
    }

    #[tokio::test]
    async fn gateway_timeouts_apply_half_the_changes() {
        let csv: String = std::iter::once("userPrincipalName".to_owned())
            .chain((1..=40).map(|i| format!("u{i}@contoso.com")))
            .collect::<Vec<_>>()
            .join("\n");
        async fn run(csv: &str, seed: u64) -> u64 {
            let h = Harness::new(
                csv,
                EmulatorConfig {
                    gateway_timeout_rate: 1.0,
                    seed,
                    ..EmulatorConfig::default()
                },
            );
            for i in 1..=40 {
                let a = h
                    .call(
                        "POST",
                        &format!("/users/u{i}@contoso.com/revokeSignInSessions"),
                        None,
                    )
                    .await;
                assert_eq!(a.status, StatusCode::GATEWAY_TIMEOUT);
                assert_eq!(a.code(), "GatewayTimeout");
            }
            let stats = h.state.stats();
            let applied = h
                .state
                .users_snapshot()
                .iter()
                .filter(|u| u.revoke_count == 1)
                .count() as u64;
            assert_eq!(stats.faults.gateway_timeout, 40);
            assert_eq!(stats.faults.gateway_timeout_after_apply, applied);
            assert_eq!(stats.revokes, applied);
            applied
        }
        let applied = run(&csv, 3).await;
        assert!((10..=30).contains(&applied), "{applied} of 40 applied");
        // The same seed times out the same requests the same way.
        assert_eq!(run(&csv, 3).await, applied);
    }
}
