//! Graph request handling shared by direct requests and `$batch` items:
//! path and query parsing, then one pipeline (count, throttle, fault,
//! dispatch to the handlers: [`super::users`], [`super::memberships`],
//! [`super::role_management`], [`super::domains`]) so that an item behaves
//! exactly like the same request sent on its own; and the per-user count
//! of write attempts.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;

use super::ctx::Ctx;
use super::faults::{Fault, Scope};
use super::jwt::Principal;
use super::memberships::{self, List};
use super::query::Query;
use super::response::{Ids, Reply, graph_error, throttled};
use super::state::State;
use super::stats::bump;
use super::throttle::Admit;
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

/// Where a Graph path (below `/v1.0`) leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Users,
    User {
        key: String,
        tail: Tail,
    },
    /// `/roleManagement/directory/roleAssignments`.
    RoleAssignments,
    /// `/roleManagement/directory/roleEligibilityScheduleInstances`.
    RoleEligibility,
    /// `/roleManagement/directory/roleDefinitions/{id}`.
    RoleDefinition {
        id: String,
    },
    /// `/domains/{name}`.
    Domain {
        name: String,
    },
    /// A segment the emulator does not know.
    Unknown {
        segment: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tail {
    Entity,
    Revoke,
    MemberOf { roles_only: bool },
    TransitiveMemberOf,
    OwnedObjects,
}

/// Decode `%XX` escapes; `None` if the result is not UTF-8 or an escape is
/// malformed.
pub(crate) fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `name/{key}` or `name('key')` as the first segments of a path: the
/// key, `Some("")` for `name` alone, `None` for another name.
fn keyed(first: &str, name: &str, next: &mut impl Iterator<Item = String>) -> Option<String> {
    if first == name {
        return Some(next.next().map(|k| unquote(&k)).unwrap_or_default());
    }
    first
        .strip_prefix(name)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
        .map(unquote)
}

/// Parse a path such as `/users/adele%40contoso.com/memberOf`, or the
/// key-in-parentheses form `/users('$x@contoso.com')`.
pub(crate) fn route(path: &str) -> Route {
    let mut segments = path
        .trim_start_matches('/')
        .trim_end_matches('/')
        .split('/')
        .map(|s| percent_decode(s).unwrap_or_else(|| s.to_owned()));
    let unknown = |segment: String| Route::Unknown { segment };
    let Some(first) = segments.next() else {
        return unknown(String::new());
    };
    if first == "roleManagement" {
        return role_management_route(segments);
    }
    if let Some(name) = keyed(&first, "domains", &mut segments) {
        return match segments.next() {
            _ if name.is_empty() => unknown(first),
            None => Route::Domain { name },
            Some(extra) => unknown(extra),
        };
    }
    let key = if first == "users" {
        match segments.next() {
            None => return Route::Users,
            Some(key) => unquote(&key),
        }
    } else if let Some(inner) = first
        .strip_prefix("users(")
        .and_then(|r| r.strip_suffix(')'))
    {
        unquote(inner)
    } else {
        return unknown(first);
    };
    if key.is_empty() {
        return unknown(key);
    }
    let rest: Vec<String> = segments.collect();
    let tail = match TAILS
        .iter()
        .find(|(segments, _)| rest.iter().eq(segments.iter()))
    {
        Some((_, tail)) => *tail,
        None => {
            // Name the first segment that no known path continues with.
            let known = TAILS
                .iter()
                .map(|(segments, _)| {
                    rest.iter()
                        .zip(segments.iter())
                        .take_while(|(a, b)| a == b)
                        .count()
                })
                .max()
                .unwrap_or(0);
            let segment = rest.get(known).or(rest.last()).cloned().unwrap_or_default();
            return unknown(segment);
        }
    };
    Route::User { key, tail }
}

/// The rest of a `/roleManagement/...` path.
fn role_management_route(mut segments: impl Iterator<Item = String>) -> Route {
    let unknown = |segment: String| Route::Unknown { segment };
    match segments.next() {
        Some(d) if d == "directory" => {}
        other => return unknown(other.unwrap_or_else(|| "roleManagement".to_owned())),
    }
    let Some(collection) = segments.next() else {
        return unknown("directory".to_owned());
    };
    let route = match collection.as_str() {
        "roleAssignments" => Route::RoleAssignments,
        "roleEligibilityScheduleInstances" => Route::RoleEligibility,
        _ => match keyed(&collection, "roleDefinitions", &mut segments) {
            Some(id) if !id.is_empty() => Route::RoleDefinition { id },
            _ => return unknown(collection),
        },
    };
    match segments.next() {
        None => route,
        Some(extra) => unknown(extra),
    }
}

/// The paths below `/users/{key}` the emulator serves.
const TAILS: &[(&[&str], Tail)] = &[
    (&[], Tail::Entity),
    (&["revokeSignInSessions"], Tail::Revoke),
    (&["microsoft.graph.revokeSignInSessions"], Tail::Revoke),
    (&["memberOf"], Tail::MemberOf { roles_only: false }),
    (
        &["memberOf", "microsoft.graph.directoryRole"],
        Tail::MemberOf { roles_only: true },
    ),
    (&["transitiveMemberOf"], Tail::TransitiveMemberOf),
    (&["ownedObjects"], Tail::OwnedObjects),
];

/// `'x'` → `x` and `''` → `'` (the OData key syntax); unquoted keys as is.
fn unquote(s: &str) -> String {
    match s.strip_prefix('\'').and_then(|s| s.strip_suffix('\'')) {
        Some(inner) => inner.replace("''", "'"),
        None => s.to_owned(),
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
    let route = route(call.path);
    let query = Query::parse(call.query);
    let patch = (*call.method == Method::PATCH).then(|| users::parse_patch(call.body.as_ref()));
    count_operations(state, &route, call.method, patch.as_ref());
    let mut used = None;
    if let Some(throttle) = &state.throttle {
        match throttle.admit(&principal.app_id) {
            Admit::Yes { used: u } => used = Some(u),
            Admit::No { retry_after } => {
                bump(&state.counters.throttled);
                let scope = format!(
                    "Tenant_Application/ReadWrite/{}/{}",
                    principal.app_id, state.config.tenant_id
                );
                return Outcome::Reply(metered(throttled(retry_after, &scope, &call.ids), None));
            }
        }
    }
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
            return Outcome::Reply(metered(reply, used));
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
            return Outcome::Reply(metered(reply, used));
        }
        Fault::DropBefore => {
            bump(&counters.dropped_before_apply);
            if let Some(kill) = kill {
                kill.fire();
            }
            return Outcome::Dropped;
        }
        Fault::None | Fault::Slow | Fault::DropAfter => {}
    }
    let ctx = Ctx {
        state,
        principal,
        ids: &call.ids,
    };
    let reply = metered(dispatch(&ctx, &route, call, &query, patch), used);
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
            return Outcome::Dropped;
        }
        _ => {}
    }
    Outcome::Reply(reply)
}

/// Graph's resource-unit headers (every metered request costs 1 unit).
fn metered(reply: Reply, used: Option<f64>) -> Reply {
    let reply = reply.with_header("x-ms-resource-unit", "1");
    match used {
        Some(used) if used >= 0.8 => {
            reply.with_header("x-ms-throttle-limit-percentage", format!("{used:.1}"))
        }
        _ => reply,
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
    use super::*;

    fn user(key: &str, tail: Tail) -> Route {
        Route::User {
            key: key.to_owned(),
            tail,
        }
    }

    #[test]
    fn routes() {
        assert_eq!(route("/users"), Route::Users);
        assert_eq!(route("/users/"), Route::Users);
        assert_eq!(route("/users/a%40b.com"), user("a@b.com", Tail::Entity));
        assert_eq!(route("users/a@b.com"), user("a@b.com", Tail::Entity));
        assert_eq!(route("/users('$x@y.com')"), user("$x@y.com", Tail::Entity));
        assert_eq!(
            route("/users(%27%24x@y.com%27)"),
            user("$x@y.com", Tail::Entity)
        );
        assert_eq!(
            route("/users('o''neil@y.com')"),
            user("o'neil@y.com", Tail::Entity)
        );
        assert_eq!(
            route("/users/alice_f.com%23EXT%23@c.com"),
            user("alice_f.com#EXT#@c.com", Tail::Entity)
        );
        assert_eq!(
            route("/users/x/revokeSignInSessions"),
            user("x", Tail::Revoke)
        );
        assert_eq!(
            route("/users/x/microsoft.graph.revokeSignInSessions"),
            user("x", Tail::Revoke)
        );
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.directoryRole"),
            user("x", Tail::MemberOf { roles_only: true })
        );
        assert_eq!(
            route("/users/x/memberOf"),
            user("x", Tail::MemberOf { roles_only: false })
        );
        let unknown = |s: &str| Route::Unknown {
            segment: s.to_owned(),
        };
        assert_eq!(route("/groups/x"), unknown("groups"));
        assert_eq!(route("/users/x/manager"), unknown("manager"));
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.group"),
            unknown("microsoft.graph.group")
        );
        assert_eq!(route("/users/x/a/b/c"), unknown("a"));
        assert_eq!(
            route("/users/x/memberOf/microsoft.graph.directoryRole/y"),
            unknown("y")
        );
        assert_eq!(route(""), unknown(""));
        assert_eq!(route("/users('')"), unknown(""));
    }

    #[test]
    fn privilege_routes() {
        assert_eq!(
            route("/users/x/transitiveMemberOf"),
            user("x", Tail::TransitiveMemberOf)
        );
        assert_eq!(
            route("/users/x/ownedObjects"),
            user("x", Tail::OwnedObjects)
        );
        assert_eq!(
            route("/roleManagement/directory/roleAssignments"),
            Route::RoleAssignments
        );
        assert_eq!(
            route("/roleManagement/directory/roleEligibilityScheduleInstances/"),
            Route::RoleEligibility
        );
        let def = |id: &str| Route::RoleDefinition { id: id.to_owned() };
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions/abc"),
            def("abc")
        );
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions('abc')"),
            def("abc")
        );
        let domain = |name: &str| Route::Domain {
            name: name.to_owned(),
        };
        assert_eq!(route("/domains/contoso.com"), domain("contoso.com"));
        assert_eq!(route("/domains('contoso.com')"), domain("contoso.com"));
        let unknown = |s: &str| Route::Unknown {
            segment: s.to_owned(),
        };
        assert_eq!(route("/domains"), unknown("domains"));
        assert_eq!(route("/domains/a.com/x"), unknown("x"));
        assert_eq!(route("/roleManagement"), unknown("roleManagement"));
        assert_eq!(
            route("/roleManagement/entitlement/x"),
            unknown("entitlement")
        );
        assert_eq!(route("/roleManagement/directory"), unknown("directory"));
        assert_eq!(
            route("/roleManagement/directory/roleDefinitions"),
            unknown("roleDefinitions")
        );
        assert_eq!(
            route("/roleManagement/directory/roleAssignments/x"),
            unknown("x")
        );
        assert_eq!(route("/users/x/transitiveMemberOf/y"), unknown("y"));
    }

    #[test]
    fn percent() {
        assert_eq!(percent_decode("a%40b%2Fc").as_deref(), Some("a@b/c"));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%ff"), None);
        assert_eq!(percent_decode("é%C3%A9").as_deref(), Some("éé"));
    }
}
