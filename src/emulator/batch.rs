//! `POST /v1.0/$batch` (at most 20 items): parse and check the envelope,
//! order items by `dependsOn`, run each item through the same pipeline as
//! a direct request (metered and faulted singly), answer failed
//! dependencies with 424, and return the responses in a seeded shuffled
//! order with the highest throttling level its items reached (for the
//! envelope's `x-ms-throttle-limit-percentage`).

use futures::future::join_all;
use hyper::{Method, StatusCode};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use super::faults::Scope;
use super::ids::splitmix64;
use super::jwt::Principal;
use super::response::{Reply, batch_item, graph_error};
use super::routes::{Call, Outcome, execute_metered, note_write_attempt};
use super::state::State;
use super::stats::bump;

/// Graph's limit on items per batch.
pub(crate) const MAX_ITEMS: usize = 20;

/// One checked item.
#[derive(Debug)]
pub(crate) struct Item {
    id: String,
    method: Method,
    url: String,
    client_request_id: Option<String>,
    body: Option<Value>,
    depends_on: Vec<usize>,
    /// A problem that fails this item alone (status, code, message).
    problem: Option<(StatusCode, &'static str, String)>,
}

/// Parse a batch body; `Err` is the message of the envelope's 400.
pub(crate) fn parse(body: &[u8]) -> Result<Vec<Item>, String> {
    let malformed = || "Invalid batch payload format.".to_owned();
    let envelope: Value = serde_json::from_slice(body).map_err(|_| malformed())?;
    let requests = envelope
        .get("requests")
        .and_then(Value::as_array)
        .ok_or_else(malformed)?;
    if requests.is_empty() {
        return Err("Invalid batch payload format: the batch holds no requests.".to_owned());
    }
    if requests.len() > MAX_ITEMS {
        return Err(format!(
            "The number of requests in a batch cannot exceed {MAX_ITEMS} (this batch has {}).",
            requests.len()
        ));
    }
    let mut ids: Vec<&str> = Vec::with_capacity(requests.len());
    for request in requests {
        let id = request
            .get("id")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                "Invalid batch payload format: every request needs a string 'id'.".to_owned()
            })?;
        if ids.contains(&id) {
            return Err(format!(
                "Invalid batch payload format: request id '{id}' is duplicated."
            ));
        }
        ids.push(id);
    }
    requests
        .iter()
        .zip(&ids)
        .map(|(request, id)| parse_item(request, id, &ids))
        .collect()
}

fn parse_item(request: &Value, id: &str, ids: &[&str]) -> Result<Item, String> {
    let text = |name: &str| request.get(name).and_then(Value::as_str);
    let (Some(method), Some(url)) = (text("method"), text("url")) else {
        return Err(format!(
            "Invalid batch payload format: request '{id}' needs a 'method' and a 'url'."
        ));
    };
    let depends_on = match request.get("dependsOn") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|dep| {
                dep.as_str()
                    .and_then(|dep| ids.iter().position(|i| *i == dep))
                    .filter(|_| dep.as_str() != Some(id))
                    .ok_or_else(|| format!("Request '{id}' depends on '{dep}', which is not an earlier request id of this batch."))
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("Invalid batch payload format: 'dependsOn' of request '{id}' must be an array of ids.")),
    };
    let headers = match request.get("headers") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(h)) => h.clone(),
        Some(_) => {
            return Err(format!(
                "Invalid batch payload format: 'headers' of request '{id}' must be an object."
            ));
        }
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| v.as_str())
    };
    let body = request.get("body").filter(|b| !b.is_null()).cloned();
    let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes()).ok();
    let problem = match &method {
        None => Some("The HTTP method of this request is not valid.".to_owned()),
        Some(m) if ![Method::GET, Method::PATCH, Method::POST].contains(m) => Some(format!(
            "The emulator does not support {m} requests in a batch."
        )),
        _ if url.contains("://") => {
            Some("Batch request URLs must be relative (e.g. `/users/{id}`).".to_owned())
        }
        _ if body.is_some() && header("content-type").is_none_or(str::is_empty) => Some(format!(
            "Write request id : {id} does not contain Content-Type header or body."
        )),
        _ => None,
    };
    Ok(Item {
        id: id.to_owned(),
        method: method.unwrap_or(Method::GET),
        url: url.to_owned(),
        client_request_id: header("client-request-id").map(str::to_owned),
        body,
        depends_on,
        problem: problem.map(|m| (StatusCode::BAD_REQUEST, "BadRequest", m)),
    })
}

/// Group items into levels: each level's items depend only on items of
/// earlier levels, so a level runs concurrently once the previous one is
/// done. `Err` names an item in a dependency cycle.
pub(crate) fn plan(depends_on: &[Vec<usize>]) -> Result<Vec<Vec<usize>>, usize> {
    let n = depends_on.len();
    let mut level_of: Vec<Option<usize>> = vec![None; n];
    let mut levels: Vec<Vec<usize>> = Vec::new();
    let mut placed = 0;
    while placed < n {
        let ready: Vec<usize> = (0..n)
            .filter(|&i| level_of[i].is_none())
            .filter(|&i| {
                depends_on[i]
                    .iter()
                    .all(|d| level_of.get(*d).copied().flatten().is_some())
            })
            .collect();
        if ready.is_empty() {
            return Err((0..n).find(|&i| level_of[i].is_none()).unwrap_or(0));
        }
        for &i in &ready {
            level_of[i] = Some(levels.len());
        }
        placed += ready.len();
        levels.push(ready);
    }
    Ok(levels)
}

/// A batch's answer before it becomes the envelope.
#[derive(Debug)]
pub(crate) struct Answered {
    /// The `responses` array, shuffled.
    pub responses: Vec<Value>,
    /// The highest throttling level an admitted item left behind (`None`
    /// when no item was admitted or no limit is on).
    pub level: Option<f64>,
}

/// Run a parsed batch.
pub(crate) async fn run(
    state: &State,
    principal: &Principal,
    items: &[Item],
) -> Result<Answered, String> {
    let deps: Vec<Vec<usize>> = items.iter().map(|i| i.depends_on.clone()).collect();
    let levels = plan(&deps).map_err(|i| {
        let id = items.get(i).map_or("", |item| item.id.as_str());
        format!("Request '{id}' is part of a dependsOn cycle.")
    })?;
    let mut replies: Vec<Option<Reply>> = vec![None; items.len()];
    let mut highest: Option<f64> = None;
    for level in levels {
        let done = &replies;
        let results = join_all(
            level
                .iter()
                .map(|&i| async move { (i, run_item(state, principal, items, i, done).await) }),
        )
        .await;
        for (i, (reply, reached)) in results {
            state.counters.status(reply.status.as_u16());
            replies[i] = Some(reply);
            highest = match (highest, reached) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let batch_no = state
        .batches
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut order: Vec<usize> = (0..items.len()).collect();
    order.shuffle(&mut StdRng::seed_from_u64(splitmix64(
        state.config.seed ^ splitmix64(batch_no),
    )));
    let responses = order
        .into_iter()
        .filter_map(|i| Some(batch_item(&items.get(i)?.id, replies.get_mut(i)?.take()?)))
        .collect();
    Ok(Answered {
        responses,
        level: highest,
    })
}

async fn run_item(
    state: &State,
    principal: &Principal,
    items: &[Item],
    index: usize,
    done: &[Option<Reply>],
) -> (Reply, Option<f64>) {
    bump(&state.counters.batch_items);
    let Some(item) = items.get(index) else {
        return (Reply::empty(StatusCode::INTERNAL_SERVER_ERROR), None);
    };
    let (path, query) = match item.url.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (item.url.as_str(), None),
    };
    note_write_attempt(state, &item.method, path);
    let ids = state.new_ids(item.client_request_id.as_deref().map(str::as_bytes));
    if let Some((status, code, message)) = &item.problem {
        return (graph_error(*status, code, message, &ids), None);
    }
    let failed = item.depends_on.iter().find(|d| {
        done.get(**d)
            .and_then(Option::as_ref)
            .is_none_or(|r| !r.is_success())
    });
    if let Some(dep) = failed {
        let dep_id = items.get(*dep).map_or("", |d| d.id.as_str());
        let reply = graph_error(
            StatusCode::FAILED_DEPENDENCY,
            "FailedDependency",
            &format!(
                "The request was not run because request '{dep_id}', which it depends on, failed."
            ),
            &ids,
        );
        return (reply, None);
    }
    let call = Call {
        method: &item.method,
        path,
        query,
        body: item.body.clone().map(Ok),
        ids,
    };
    match execute_metered(state, principal, &call, Scope::Item, None).await {
        (Outcome::Reply(reply), level) => (reply, level),
        // Items are never dropped (their scope excludes it); answer 500
        // should that ever change.
        (Outcome::Dropped, _) => (
            Reply::json(StatusCode::INTERNAL_SERVER_ERROR, json!({})),
            None,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_levels_by_dependency() {
        assert_eq!(plan(&[vec![], vec![], vec![]]), Ok(vec![vec![0, 1, 2]]));
        assert_eq!(
            plan(&[vec![1], vec![], vec![0]]),
            Ok(vec![vec![1], vec![0], vec![2]])
        );
        assert_eq!(
            plan(&[vec![], vec![0], vec![0, 1], vec![]]),
            Ok(vec![vec![0, 3], vec![1], vec![2]])
        );
        assert_eq!(plan(&[vec![1], vec![0]]), Err(0));
        assert_eq!(plan(&[vec![], vec![2], vec![1]]), Err(1));
        assert_eq!(plan(&[vec![7]]), Err(0));
        assert_eq!(plan(&[]), Ok(vec![]));
    }

    fn batch(requests: &Value) -> Result<Vec<Item>, String> {
        parse(
            serde_json::to_string(&json!({ "requests": requests }))
                .unwrap()
                .as_bytes(),
        )
    }

    #[test]
    fn envelope_checks() {
        assert!(parse(b"not json").is_err());
        assert!(parse(b"{}").is_err());
        assert!(batch(&json!([])).is_err());
        let many: Vec<Value> = (0..21)
            .map(|i| json!({"id": i.to_string(), "method": "GET", "url": "/users/x"}))
            .collect();
        assert!(
            batch(&json!(many))
                .unwrap_err()
                .contains("cannot exceed 20")
        );
        assert!(batch(&json!(many[..20])).is_ok());
        let dup = json!([{"id": "1", "method": "GET", "url": "/users/x"}, {"id": "1", "method": "GET", "url": "/users/y"}]);
        assert!(batch(&dup).unwrap_err().contains("duplicated"));
        let unknown_dep =
            json!([{"id": "1", "method": "GET", "url": "/users/x", "dependsOn": ["9"]}]);
        assert!(batch(&unknown_dep).is_err());
        let self_dep = json!([{"id": "1", "method": "GET", "url": "/users/x", "dependsOn": ["1"]}]);
        assert!(batch(&self_dep).is_err());
        assert!(batch(&json!([{"id": "1", "url": "/users/x"}])).is_err());
    }

    #[test]
    fn item_problems_stay_with_the_item() {
        let items = batch(&json!([
            {"id": "1", "method": "PATCH", "url": "/users/x", "body": {"accountEnabled": true}},
            {"id": "2", "method": "PATCH", "url": "/users/x", "headers": {"content-type": "application/json"}, "body": {"accountEnabled": true}, "dependsOn": ["1"]},
            {"id": "3", "method": "DELETE", "url": "/users/x"},
            {"id": "4", "method": "get", "url": "https://graph.microsoft.com/v1.0/users/x"},
        ]))
        .unwrap();
        assert!(
            items[0]
                .problem
                .as_ref()
                .unwrap()
                .2
                .contains("Content-Type")
        );
        assert!(items[1].problem.is_none());
        assert_eq!(items[1].depends_on, [0]);
        assert!(items[2].problem.is_some());
        assert!(items[3].problem.is_some());
    }
}
