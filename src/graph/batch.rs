//! JSON batching: up to 20 requests in one `POST /$batch`, each answered on
//! its own (status, headers, body) in any order.
//!
//! An item's failure is an ordinary [`GraphError`] for that item, with its
//! own `Retry-After`; the envelope fails only when the whole call does.

use std::collections::HashMap;

use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::graph::client::{GraphClient, GraphRequest, GraphResponse};
use crate::graph::error::{ErrorKind, GraphError};
use crate::graph::permissions::Operation;

/// Graph's limit of requests per batch.
pub const MAX_BATCH: usize = 20;

/// One request of a batch.
#[derive(Debug, Clone)]
pub struct BatchItem {
    /// Unique within the batch.
    pub id: String,
    pub request: GraphRequest,
    /// The item that must succeed first (Graph honours one dependency per
    /// item reliably, so remedy uses at most one: a strict chain).
    pub depends_on: Option<String>,
}

/// The outcome of one item.
pub type ItemResult = Result<GraphResponse, GraphError>;

#[derive(Deserialize)]
struct Envelope {
    responses: Vec<ItemResponse>,
}

#[derive(Deserialize)]
struct ItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Option<serde_json::Value>,
}

/// Serialises the batch body. Built by hand so each item's JSON body (which
/// may hold a password) is copied once into a buffer that is zeroed on drop.
pub fn batch_body(items: &[BatchItem]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(256 * items.len()));
    out.extend_from_slice(b"{\"requests\":[");
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        let q = |s: &str| serde_json::to_string(s).unwrap_or_default();
        out.extend_from_slice(
            format!(
                "{{\"id\":{},\"method\":{},\"url\":{}",
                q(&item.id),
                q(item.request.method.as_str()),
                q(&item.request.path)
            )
            .as_bytes(),
        );
        if let Some(body) = &item.request.body {
            out.extend_from_slice(
                b",\"headers\":{\"Content-Type\":\"application/json\"},\"body\":",
            );
            out.extend_from_slice(body);
        }
        if let Some(dep) = &item.depends_on {
            out.extend_from_slice(format!(",\"dependsOn\":[{}]", q(dep)).as_bytes());
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    out
}

impl GraphClient {
    /// Sends up to [`MAX_BATCH`] requests in one call. Returns one result per
    /// item, in the order given; `Err` only when the batch call itself
    /// failed (then no item is known to have been applied or not).
    pub async fn batch(&self, items: &[BatchItem]) -> Result<Vec<ItemResult>, GraphError> {
        assert!(
            items.len() <= MAX_BATCH,
            "at most {MAX_BATCH} requests per batch"
        );
        let envelope = GraphRequest {
            method: Method::POST,
            path: "/$batch".to_owned(),
            body: Some(batch_body(items)),
            // Metering and permissions are per item; the envelope carries the
            // first item's operation only for error hints.
            operation: items
                .first()
                .map_or(Operation::ReadUser, |i| i.request.operation),
            // Any item's answer may quote any item's request.
            secrets: items
                .iter()
                .flat_map(|i| i.request.secrets.iter().cloned())
                .collect(),
        };
        let resp = self.send(&envelope).await?;
        match parse_batch(items, &resp) {
            Ok(results) => {
                let redactor = self.redactor(&envelope.secrets);
                // Whether Graph puts the level on items or on the
                // envelope is not documented: an item without its own
                // takes the envelope's.
                Ok(results
                    .into_iter()
                    .map(|r| match r {
                        Ok(mut item) => {
                            item.throttle_level = item.throttle_level.or(resp.throttle_level);
                            Ok(item)
                        }
                        Err(e) => Err(e.redacted(&redactor)),
                    })
                    .collect())
            }
            Err(e) => Err(e.redacted(&self.redactor(&envelope.secrets))),
        }
    }
}

/// Matches a batch answer to its items.
pub fn parse_batch(
    items: &[BatchItem],
    resp: &GraphResponse,
) -> Result<Vec<ItemResult>, GraphError> {
    // The envelope is a 2xx: Graph ran the items, so an answer that cannot
    // be read leaves every item's fate unknown.
    let envelope: Envelope = serde_json::from_slice(&resp.body).map_err(|e| {
        GraphError::unreadable_success(
            format!("the $batch answer could not be read ({e})"),
            resp.request_id.clone(),
            None,
        )
    })?;
    let mut by_id: HashMap<String, ItemResponse> = HashMap::with_capacity(items.len());
    for r in envelope.responses {
        if let Some(first) = by_id.insert(r.id.clone(), r) {
            // Two answers for one request: neither can be trusted, nor can
            // the rest of an answer that confuses its items. Every item's
            // fate is unknown; callers confirm before resending.
            return Err(GraphError {
                kind: ErrorKind::Server,
                status: None,
                code: None,
                message: format!(
                    "the $batch answer has more than one response for request {:?}",
                    first.id
                ),
                request_id: resp.request_id.clone(),
                client_request_id: None,
                retry_after: None,
                throttle_scope: None,
                operation: None,
                fate_unknown: true,
            });
        }
    }
    Ok(items
        .iter()
        .map(|item| {
            let op = Some(item.request.operation);
            let Some(r) = by_id.remove(&item.id) else {
                // No answer for this item: unknown whether it ran. Callers
                // may retry it, but a one-shot action is first confirmed by
                // reading the user back.
                return Err(GraphError {
                    kind: ErrorKind::Server,
                    status: None,
                    code: None,
                    message: "the $batch answer has no response for this request".into(),
                    request_id: resp.request_id.clone(),
                    client_request_id: None,
                    retry_after: None,
                    throttle_scope: None,
                    operation: op,
                    fate_unknown: true,
                });
            };
            let headers = to_header_map(&r.headers);
            let body = r
                .body
                .as_ref()
                .map(|b| serde_json::to_vec(b).unwrap_or_default())
                .unwrap_or_default();
            let request_id = crate::graph::client::header(&headers, "request-id")
                .or_else(|| resp.request_id.clone());
            if (200..300).contains(&r.status) {
                Ok(GraphResponse {
                    status: r.status,
                    request_id,
                    body,
                    throttle_level: crate::graph::client::throttle_level(&headers),
                    resource_units: crate::graph::client::resource_units(&headers),
                })
            } else {
                let mut e = GraphError::from_status(r.status, &headers, &body, None, op);
                if e.request_id.is_none() {
                    e.request_id = request_id;
                }
                if r.status == 424 && e.code.is_none() {
                    e.message = "not run: the request it depended on failed".into();
                }
                Err(e)
            }
        })
        .collect())
}

fn to_header_map(h: &HashMap<String, String>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (k, v) in h {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()),
            HeaderValue::from_str(v),
        ) {
            map.insert(name, value);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::users;
    use std::time::Duration;

    #[test]
    fn body_is_valid_json_with_relative_urls_and_dependencies() {
        let items = vec![
            BatchItem {
                id: "1".into(),
                request: users::set_account_enabled("u1", true),
                depends_on: None,
            },
            BatchItem {
                id: "2".into(),
                request: users::revoke_sessions("u1"),
                depends_on: Some("1".into()),
            },
        ];
        let v: serde_json::Value = serde_json::from_slice(&batch_body(&items)).unwrap();
        let r = v["requests"].as_array().unwrap();
        assert_eq!(r[0]["url"], "/users/u1");
        assert_eq!(r[0]["headers"]["Content-Type"], "application/json");
        assert_eq!(r[0]["body"]["accountEnabled"], true);
        assert_eq!(r[1]["dependsOn"][0], "1");
        assert!(r[1].get("body").is_none());
    }

    #[test]
    fn items_are_matched_by_id_with_their_own_retry_after() {
        let items = vec![
            BatchItem {
                id: "1".into(),
                request: users::set_account_enabled("u1", true),
                depends_on: None,
            },
            BatchItem {
                id: "2".into(),
                request: users::revoke_sessions("u1"),
                depends_on: Some("1".into()),
            },
            BatchItem {
                id: "3".into(),
                request: users::get_user("u3"),
                depends_on: None,
            },
        ];
        let resp = GraphResponse {
            status: 200,
            request_id: Some("env".into()),
            throttle_level: None,
            resource_units: None,
            body: br#"{"responses":[{"id":"2","status":424},{"id":"1","status":429,"headers":{"Retry-After":"7"},"body":{"error":{"code":"TooManyRequests","message":"Please retry again later."}}}]}"#.to_vec(),
        };
        let out = parse_batch(&items, &resp).unwrap();
        let e1 = out[0].as_ref().unwrap_err();
        assert_eq!(e1.kind, ErrorKind::Throttled);
        assert_eq!(e1.retry_after, Some(Duration::from_secs(7)));
        assert_eq!(e1.request_id.as_deref(), Some("env"));
        let e2 = out[1].as_ref().unwrap_err();
        assert_eq!(e2.kind, ErrorKind::FailedDependency);
        assert!(!e2.is_retryable());
        assert!(out[2].as_ref().unwrap_err().is_retryable());
    }

    fn resets(ids: &[&str]) -> Vec<BatchItem> {
        ids.iter()
            .map(|id| BatchItem {
                id: (*id).into(),
                request: users::revoke_sessions("0f8fad5b-d9cb-469f-a165-70867728950e"),
                depends_on: None,
            })
            .collect()
    }

    fn ok(body: &[u8]) -> GraphResponse {
        GraphResponse {
            status: 200,
            request_id: Some("env".into()),
            body: body.to_vec(),
            throttle_level: None,
            resource_units: None,
        }
    }

    #[test]
    fn an_item_missing_from_the_answer_has_an_unknown_fate() {
        let out = parse_batch(
            &resets(&["1", "2"]),
            &ok(br#"{"responses":[{"id":"2","status":204}]}"#),
        )
        .unwrap();
        let e = out[0].as_ref().unwrap_err();
        assert!(e.fate_unknown && e.is_retryable(), "{e:?}");
        assert_eq!(out[1].as_ref().unwrap().status, 204);
    }

    #[test]
    fn a_repeated_item_id_rejects_the_whole_answer() {
        // Whichever copy came last used to win; now no item is believed.
        for body in [
            &br#"{"responses":[{"id":"1","status":204},{"id":"2","status":204},{"id":"1","status":503}]}"#[..],
            br#"{"responses":[{"id":"1","status":503},{"id":"1","status":204},{"id":"2","status":204}]}"#,
        ] {
            let e = parse_batch(&resets(&["1", "2"]), &ok(body)).unwrap_err();
            assert!(e.fate_unknown, "{e:?}");
            assert!(e.message.contains("more than one response"), "{}", e.message);
            assert_eq!(e.request_id.as_deref(), Some("env"));
        }
    }

    #[test]
    fn an_unreadable_successful_answer_leaves_every_item_unknown() {
        let e = parse_batch(&resets(&["1", "2"]), &ok(b"\x00garbage")).unwrap_err();
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        assert!(e.fate_unknown && !e.is_retryable());
    }

    /// Answers a proxy, a truncated transfer or a changed service could
    /// give: each becomes an error for the batch or for its items, never a
    /// panic, and an item is never matched to another's answer.
    #[test]
    fn hostile_batch_answers() {
        let items: Vec<BatchItem> = ["1", "2"]
            .into_iter()
            .map(|id| BatchItem {
                id: id.into(),
                request: users::get_user("u"),
                depends_on: None,
            })
            .collect();
        let answer = |body: &[u8]| {
            parse_batch(
                &items,
                &GraphResponse {
                    status: 200,
                    request_id: None,
                    body: body.to_vec(),
                    throttle_level: None,
                    resource_units: None,
                },
            )
        };
        for body in [
            &b""[..],
            b"<html>502 Bad Gateway</html>",
            br#"{"responses":[{"id":"1","status":200}"#,
            br#"{"responses":{"id":"1"}}"#,
            br#"{"responses":[{"id":1,"status":200}]}"#,
            br#"{"responses":[{"id":"1","status":"200"}]}"#,
            br#"{"responses":[{"id":"1","status":70000}]}"#,
            br#"{"responses":[{"id":"1","status":200,"headers":{"a":1}}]}"#,
            b"\xff\xfe{}",
        ] {
            let e = answer(body).unwrap_err();
            assert_eq!(
                e.kind,
                ErrorKind::InvalidResponse,
                "{}",
                String::from_utf8_lossy(body)
            );
            assert!(
                e.message.starts_with("the $batch answer could not be read"),
                "{}",
                e.message
            );
        }
        let out = answer(
            br#"{"responses":[{"id":"9","status":200},{"id":"1","status":200,"body":"aGVsbG8="},{"id":"2","status":0,"headers":{"Retry-After":"99999999","bad header":"x","x":"\u0000"}}]}"#,
        )
        .unwrap();
        assert_eq!(out.len(), 2);
        let first = out[0].as_ref().map(|r| r.status).map_err(|e| e.status);
        assert_eq!(first, Ok(200));
        let second = out[1].as_ref().unwrap_err();
        assert_eq!((second.kind, second.status), (ErrorKind::Other, Some(0)));
        assert_eq!(
            second.retry_after,
            Some(crate::graph::error::MAX_RETRY_AFTER)
        );
    }
}
