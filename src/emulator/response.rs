//! Answers: the [`Reply`] every handler returns, Graph's error body
//! (`{"error":{"code","message","innerError"}}`), the token service's OAuth
//! error body (`error`, `error_description`, `error_codes`), and how a
//! reply becomes an HTTP response or a `$batch` item.

use axum::body::Body;
use hyper::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hyper::{Response, StatusCode};
use serde_json::{Map, Value, json};

use super::clock;

/// The ids that tie an answer to its request: `request-id` (new per
/// request) and `client-request-id` (the client's, else the request id).
#[derive(Debug, Clone)]
pub(crate) struct Ids {
    pub request_id: String,
    pub client_request_id: String,
}

/// A handler's answer, before it becomes an HTTP response or a batch item.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    pub status: StatusCode,
    /// Headers besides the ids and `Content-Type`, which are added on the
    /// way out.
    pub headers: Vec<(&'static str, String)>,
    pub body: Option<Value>,
}

impl Reply {
    pub(crate) fn json(status: StatusCode, body: Value) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: Some(body),
        }
    }

    pub(crate) fn empty(status: StatusCode) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: None,
        }
    }

    pub(crate) fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub(crate) fn is_success(&self) -> bool {
        self.status.is_success()
    }
}

/// Graph's error body: `{"error":{"code","message","innerError":{...}}}`.
pub(crate) fn graph_error(status: StatusCode, code: &str, message: &str, ids: &Ids) -> Reply {
    Reply::json(
        status,
        json!({"error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": clock::inner_date(clock::now()),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }}),
    )
}

/// 429 as Graph throttles: a `TooManyRequests` body, `Retry-After` in
/// seconds, and the `x-ms-throttle-scope` and `-information` headers.
pub(crate) fn throttled(retry_after: u64, scope: &str, information: &str, ids: &Ids) -> Reply {
    Reply::json(
        StatusCode::TOO_MANY_REQUESTS,
        json!({"error": {
            "code": "TooManyRequests",
            "message": "Please retry again later.",
            "innerError": {
                "code": "429",
                "status": "429",
                "message": "Please retry after",
                "date": clock::inner_date(clock::now()),
                "request-id": ids.request_id,
                "client-request-id": ids.client_request_id,
            }
        }}),
    )
    .with_header("Retry-After", retry_after.to_string())
    .with_header("x-ms-throttle-scope", scope)
    .with_header("x-ms-throttle-information", information)
}

/// The token service's error body. `description` is the text after
/// `AADSTSnnnn: `; trace and correlation ids and a timestamp are appended
/// on their own lines (`\r\n`), as Entra does.
pub(crate) fn oauth_error(
    status: StatusCode,
    error: &str,
    code: u32,
    description: &str,
    ids: &Ids,
) -> Reply {
    let timestamp = clock::aad(clock::now());
    Reply::json(
        status,
        json!({
            "error": error,
            "error_description": format!(
                "AADSTS{code}: {description}\r\nTrace ID: {}\r\nCorrelation ID: {}\r\nTimestamp: {timestamp}",
                ids.request_id, ids.client_request_id
            ),
            "error_codes": [code],
            "timestamp": timestamp,
            "trace_id": ids.request_id,
            "correlation_id": ids.client_request_id,
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        }),
    )
}

/// The HTTP response for `reply`.
pub(crate) fn into_response(reply: Reply, ids: &Ids) -> Response<Body> {
    let body = reply
        .body
        .as_ref()
        .map(|value| serde_json::to_vec(value).unwrap_or_default());
    build(reply.status, body, &reply.headers, ids)
}

/// A response whose JSON body is already serialized (large hook answers
/// are written straight to bytes, never held as a `Value` tree).
pub(crate) fn raw_json(status: StatusCode, json: Vec<u8>, ids: &Ids) -> Response<Body> {
    build(status, Some(json), &[], ids)
}

fn build(
    status: StatusCode,
    json: Option<Vec<u8>>,
    extra: &[(&'static str, String)],
    ids: &Ids,
) -> Response<Body> {
    let has_body = json.is_some();
    let mut response = Response::new(json.map_or_else(Body::empty, Body::from));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if has_body {
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(name, value);
        }
    };
    put(HeaderName::from_static("request-id"), &ids.request_id);
    put(
        HeaderName::from_static("client-request-id"),
        &ids.client_request_id,
    );
    for (name, value) in extra {
        if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
            put(name, value);
        }
    }
    response
}

/// One entry of a `$batch` response's `responses` array.
pub(crate) fn batch_item(id: &str, reply: Reply) -> Value {
    let mut headers = Map::new();
    if reply.body.is_some() {
        headers.insert("Content-Type".to_owned(), json!("application/json"));
    }
    for (name, value) in reply.headers {
        headers.insert(name.to_owned(), Value::String(value));
    }
    let mut item = Map::new();
    item.insert("id".to_owned(), json!(id));
    item.insert("status".to_owned(), json!(reply.status.as_u16()));
    item.insert("headers".to_owned(), Value::Object(headers));
    if let Some(body) = reply.body {
        item.insert("body".to_owned(), body);
    }
    Value::Object(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> Ids {
        Ids {
            request_id: "r".to_owned(),
            client_request_id: "c".to_owned(),
        }
    }

    #[test]
    fn graph_error_shape() {
        let r = graph_error(
            StatusCode::NOT_FOUND,
            "Request_ResourceNotFound",
            "gone",
            &ids(),
        );
        let e = &r.body.unwrap()["error"];
        assert_eq!(e["code"], "Request_ResourceNotFound");
        assert_eq!(e["innerError"]["request-id"], "r");
        assert_eq!(e["innerError"]["client-request-id"], "c");
        assert_eq!(e["innerError"]["date"].as_str().unwrap().len(), 19);
    }

    #[test]
    fn oauth_error_shape() {
        let r = oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            70011,
            "Bad scope.",
            &ids(),
        );
        let b = r.body.unwrap();
        assert_eq!(b["error"], "invalid_scope");
        assert_eq!(b["error_codes"], json!([70011]));
        let d = b["error_description"].as_str().unwrap();
        assert!(d.starts_with(
            "AADSTS70011: Bad scope.\r\nTrace ID: r\r\nCorrelation ID: c\r\nTimestamp: "
        ));
    }

    #[test]
    fn responses_carry_ids_and_content_type() {
        let r = throttled(
            3,
            "Tenant_Application/ReadWrite/a/t",
            "ResourceUnitLimitExceeded",
            &ids(),
        );
        let item = batch_item("7", r.clone());
        assert_eq!(item["status"], 429);
        assert_eq!(item["headers"]["Retry-After"], "3");
        let resp = into_response(r, &ids());
        assert_eq!(resp.headers()["retry-after"], "3");
        assert_eq!(resp.headers()["request-id"], "r");
        assert_eq!(resp.headers()["content-type"], "application/json");
        let empty = into_response(Reply::empty(StatusCode::NO_CONTENT), &ids());
        assert!(empty.headers().get("content-type").is_none());
        assert!(
            batch_item("1", Reply::empty(StatusCode::NO_CONTENT))
                .get("body")
                .is_none()
        );
    }
}
