//! The test hooks that exist only in the emulator: `GET /_stats`,
//! `GET /_users[?upn=]` and `POST /_reset`. They need no token and are
//! never throttled, faulted or counted.

use axum::body::Body;
use hyper::{Method, Response, StatusCode};
use serde::Serializer;

use super::response::{Ids, Reply, graph_error, into_response, raw_json};
use super::state::State;

/// Answer a `/_…` path.
pub(crate) fn handle(
    state: &State,
    method: &Method,
    path: &str,
    query: Option<&str>,
    ids: &Ids,
) -> Response<Body> {
    let error =
        |status, message: &str| into_response(graph_error(status, "BadRequest", message, ids), ids);
    match (method, path) {
        (&Method::GET, "/_stats") => match serde_json::to_vec(&state.stats()) {
            Ok(json) => raw_json(StatusCode::OK, json, ids),
            Err(_) => error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot serialize the counters",
            ),
        },
        (&Method::GET, "/_users") => {
            let upn = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
                .find(|(k, _)| k == "upn")
                .map(|(_, v)| v.into_owned());
            match users_json(state, upn.as_deref()) {
                Ok(json) => raw_json(StatusCode::OK, json, ids),
                Err(_) => error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot serialize the users",
                ),
            }
        }
        (&Method::POST, "/_reset") => {
            state.reset();
            into_response(Reply::empty(StatusCode::NO_CONTENT), ids)
        }
        (_, "/_stats" | "/_users" | "/_reset") => error(
            StatusCode::METHOD_NOT_ALLOWED,
            "Use GET /_stats, GET /_users or POST /_reset.",
        ),
        _ => error(
            StatusCode::NOT_FOUND,
            &format!(
                "Resource not found for the segment '{}'.",
                path.trim_start_matches('/')
            ),
        ),
    }
}

/// The users as a JSON array, serialized one user at a time so that a
/// million users never exist as a `Value` tree.
fn users_json(state: &State, upn: Option<&str>) -> Result<Vec<u8>, serde_json::Error> {
    let dir = &state.directory;
    let mut out = Vec::new();
    let mut json = serde_json::Serializer::new(&mut out);
    match upn {
        Some(upn) => json.collect_seq(dir.find_upn(upn).map(|u| dir.view(u)))?,
        None => json.collect_seq(dir.users().iter().map(|u| dir.view(u)))?,
    }
    Ok(out)
}
