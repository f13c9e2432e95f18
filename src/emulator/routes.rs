//! Graph request handling shared by direct requests and `$batch` items:
//! the path ([`super::paths`]) and query parsed, then one pipeline (count,
//! throttle, fault, dispatch to the handlers: [`super::users`],
//! [`super::memberships`], [`super::role_management`], [`super::domains`])
//! so that an item behaves exactly like the same request sent on its own;
//! and the per-user count of write attempts.

use std::sync::Arc;

use hyper::{Method, StatusCode};
use serde_json::Value;
use tokio::sync::Notify;

use super::ctx::Ctx;
use super::faults::{Fault, Scope};
use super::jwt::Principal;
use super::memberships::{self, List};
use super::paths::{Route, Tail, route};
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
