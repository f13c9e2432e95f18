//! Graph errors: the typed form of a failed call, how to classify it
//! (retry or not), and the hint an admin needs to fix it.
//!
//! Graph answers failures with `{"error":{"code","message","innerError":
//! {"request-id","client-request-id","date"}}}`; remedy branches on `code`
//! and the HTTP status only, never on the (unlocalised, changing) message,
//! except to recognise the synced-user and weak-password cases, which share
//! the code `Request_BadRequest`.

use std::fmt;
use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;
use serde::Deserialize;

use crate::graph::auth::AuthError;
use crate::graph::permissions::Operation;
use crate::graph::redact::Redactor;
use crate::graph::transport::{is_tls_failure, transport_message};

/// What went wrong, coarsely: enough to decide retry or not and what to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// 429: throttled; retry after `retry_after`.
    Throttled,
    /// 500, 502, 503, 504: the service failed; retry with backoff.
    Server,
    /// No answer within the timeout.
    Timeout,
    /// The connection could not be made, or broke before an answer.
    Connection,
    /// 400.
    BadRequest,
    /// 401 (after one token refresh).
    Unauthorized,
    /// 403.
    Forbidden,
    /// 404.
    NotFound,
    /// 409.
    Conflict,
    /// 424 inside `$batch`: a request this one depended on failed.
    FailedDependency,
    /// Any other status.
    Other,
    /// A 2xx whose body remedy cannot read.
    InvalidResponse,
    /// No token could be had.
    Auth,
}

/// A failed Graph call.
#[derive(Debug, Clone)]
pub struct GraphError {
    pub kind: ErrorKind,
    pub status: Option<u16>,
    /// Graph's `error.code`, e.g. `Authorization_RequestDenied`.
    pub code: Option<String>,
    pub message: String,
    pub request_id: Option<String>,
    pub client_request_id: Option<String>,
    pub retry_after: Option<Duration>,
    /// The operation that failed, for hints.
    pub operation: Option<Operation>,
    /// A 429's `x-ms-throttle-scope`: which budget refused.
    pub throttle_scope: Option<ThrottleScope>,
    /// Whether the request may have taken effect although no answer says
    /// so: no answer (timeout, broken connection), a gateway's 502 or 504
    /// (the gateway may have passed the request on before failing), a 2xx
    /// whose body cannot be read, or a `$batch` answer that lost or
    /// repeated an item. A one-shot action is then confirmed by reading the
    /// account back, never simply resent.
    pub fate_unknown: bool,
}

/// Which budget a 429 says refused, from its `x-ms-throttle-scope`
/// (`<Tenant_Application|Tenant|Application>/<Read|Write|ReadWrite>/<appId>/<id>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleScope {
    Read,
    Write,
    ReadWrite,
}

impl ThrottleScope {
    /// The scope's second segment; `None` when it is not one of the three.
    pub fn parse(header: &str) -> Option<Self> {
        match header.split('/').nth(1)?.trim() {
            s if s.eq_ignore_ascii_case("read") => Some(ThrottleScope::Read),
            s if s.eq_ignore_ascii_case("write") => Some(ThrottleScope::Write),
            s if s.eq_ignore_ascii_case("readwrite") => Some(ThrottleScope::ReadWrite),
            _ => None,
        }
    }
}

#[derive(Deserialize)]
struct Envelope {
    error: Body,
}

#[derive(Deserialize)]
struct Body {
    code: Option<String>,
    message: Option<String>,
    #[serde(rename = "innerError", alias = "innererror")]
    inner: Option<Inner>,
}

#[derive(Deserialize)]
struct Inner {
    #[serde(rename = "request-id")]
    request_id: Option<String>,
    #[serde(rename = "client-request-id")]
    client_request_id: Option<String>,
}

impl GraphError {
    /// Whether retrying the same request may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self.kind,
            ErrorKind::Throttled | ErrorKind::Server | ErrorKind::Timeout | ErrorKind::Connection
        )
    }

    /// Builds the error of a non-2xx answer (a whole response or one
    /// `$batch` item).
    pub fn from_status(
        status: u16,
        headers: &HeaderMap,
        body: &[u8],
        client_request_id: Option<&str>,
        operation: Option<Operation>,
    ) -> Self {
        let parsed = serde_json::from_slice::<Envelope>(body)
            .ok()
            .map(|e| e.error);
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let (code, message, inner) = match parsed {
            Some(b) => (b.code, b.message, b.inner),
            None => (None, None, None),
        };
        let message = message.unwrap_or_else(|| {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() || text.len() > 300 {
                format!("HTTP {status} without a Graph error body")
            } else {
                text.to_owned()
            }
        });
        GraphError {
            kind: kind_of(status),
            status: Some(status),
            code,
            message,
            request_id: header("request-id")
                .or_else(|| inner.as_ref().and_then(|i| i.request_id.clone())),
            client_request_id: header("client-request-id")
                .or_else(|| inner.and_then(|i| i.client_request_id))
                .or_else(|| client_request_id.map(str::to_owned)),
            retry_after: header("retry-after").and_then(|v| parse_retry_after(&v)),
            throttle_scope: header("x-ms-throttle-scope").and_then(|v| ThrottleScope::parse(&v)),
            operation,
            // A gateway that failed or timed out waiting for Graph may have
            // forwarded the request already; Graph's own 500 and 503 do not
            // say the change was made.
            fate_unknown: matches!(status, 502 | 504),
        }
    }

    /// Builds the error of a request that got no HTTP answer.
    pub fn from_transport(
        e: &reqwest::Error,
        client_request_id: &str,
        operation: Option<Operation>,
    ) -> Self {
        let kind = if e.is_timeout() {
            ErrorKind::Timeout
        } else {
            ErrorKind::Connection
        };
        GraphError {
            kind,
            status: None,
            code: None,
            message: transport_message(e),
            request_id: None,
            client_request_id: Some(client_request_id.to_owned()),
            retry_after: None,
            throttle_scope: None,
            operation,
            fate_unknown: true,
        }
    }

    /// An answer that could not be understood, or a request remedy
    /// refused to send; either way nothing says the request took effect.
    pub fn invalid_response(
        what: String,
        request_id: Option<String>,
        operation: Option<Operation>,
    ) -> Self {
        GraphError {
            kind: ErrorKind::InvalidResponse,
            status: None,
            code: None,
            message: what,
            request_id,
            client_request_id: None,
            retry_after: None,
            throttle_scope: None,
            operation,
            fate_unknown: false,
        }
    }

    /// A 2xx (a whole answer, or a `$batch` envelope) whose body could not
    /// be read: the request was accepted, so it may well have taken effect.
    pub fn unreadable_success(
        what: String,
        request_id: Option<String>,
        operation: Option<Operation>,
    ) -> Self {
        GraphError {
            fate_unknown: true,
            ..GraphError::invalid_response(what, request_id, operation)
        }
    }

    /// No token: the call was never made.
    pub fn auth(e: &AuthError, operation: Option<Operation>) -> Self {
        GraphError {
            kind: ErrorKind::Auth,
            status: None,
            code: None,
            message: e.to_string(),
            request_id: None,
            client_request_id: None,
            retry_after: None,
            throttle_scope: None,
            operation,
            fate_unknown: false,
        }
    }

    /// `self` with every secret `r` knows scrubbed out of the text the
    /// server chose (code, message, request ids).
    #[must_use]
    pub fn redacted(mut self, r: &Redactor) -> Self {
        if r.is_empty() {
            return self;
        }
        r.scrub_in_place(&mut self.message);
        for text in [
            &mut self.code,
            &mut self.request_id,
            &mut self.client_request_id,
        ]
        .into_iter()
        .flatten()
        {
            r.scrub_in_place(text);
        }
        self
    }

    /// What an admin should do about it, when remedy can tell.
    pub fn hint(&self) -> Option<String> {
        let op = self.operation;
        match self.kind {
            ErrorKind::Forbidden => Some(match op {
                Some(op) => {
                    let mut h = format!(
                        "grant the app the application permission {} (admin consent)",
                        op.least_privileged().join(" + ")
                    );
                    if let Some(role) = op.directory_role() {
                        h.push_str(&format!(" and the directory role {role}"));
                        h.push_str("; admins can only be changed by a more privileged role");
                    }
                    h
                }
                None => "the app lacks a permission or directory role for this call".to_owned(),
            }),
            ErrorKind::BadRequest if self.is_synced_user() => Some(
                "the user is synchronised from on-premises Active Directory: change it there (Entra Connect syncs it back)".to_owned(),
            ),
            ErrorKind::BadRequest if self.is_weak_password() => Some(
                "the tenant's password policy refused the new password: with a template, check the CSV's passwords; with `generate`, report this".to_owned(),
            ),
            ErrorKind::NotFound => match op {
                Some(Operation::ReadDomain) => Some(
                    "the user's sign-in name is in a domain this tenant does not list: check the tenant's domains".to_owned(),
                ),
                Some(Operation::ReadRoleDefinition) => None,
                _ => Some(
                    "no such user in this tenant: check the CSV key (user principal name or object id) and the tenant".to_owned(),
                ),
            },
            ErrorKind::Unauthorized => Some(
                "the access token was refused even after a refresh: check the tenant, the app registration and the token's audience".to_owned(),
            ),
            ErrorKind::Throttled => Some("Graph is throttling this app; remedy waits for Retry-After and retries".to_owned()),
            ErrorKind::Server => Some("Graph failed; remedy retries with backoff".to_owned()),
            ErrorKind::Connection if is_tls_failure(&self.message) => {
                Some(crate::graph::tls::UNTRUSTED_HINT.to_owned())
            }
            ErrorKind::Timeout | ErrorKind::Connection => Some(
                "check the network, a proxy (HTTPS_PROXY) and --graph-url".to_owned(),
            ),
            ErrorKind::FailedDependency => Some("an earlier step of this user failed".to_owned()),
            _ => None,
        }
    }

    /// `400` because the target is mastered on-premises.
    pub fn is_synced_user(&self) -> bool {
        self.status == Some(400)
            && (self.message.contains("on-premises mastered")
                || self.message.contains("Directory Sync"))
    }

    /// `400` because the password broke the complexity or banned-word rules.
    pub fn is_weak_password(&self) -> bool {
        self.status == Some(400) && self.message.to_ascii_lowercase().contains("password")
    }

    /// One line for a report: names the user, the step, the Graph code and
    /// the request id, then the hint.
    pub fn describe(&self, user: &str, step: &str) -> String {
        let mut s = format!("user `{user}`, step `{step}`: {self}");
        if let Some(h) = self.hint() {
            s.push_str("; hint: ");
            s.push_str(&h);
        }
        s
    }
}

impl fmt::Display for GraphError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.code, self.status) {
            (Some(code), Some(status)) => write!(f, "{code} (HTTP {status}): ")?,
            (None, Some(status)) => write!(f, "HTTP {status}: ")?,
            _ => {}
        }
        f.write_str(&self.message)?;
        if let Some(id) = &self.request_id {
            write!(f, " [request-id {id}]")?;
        } else if let Some(id) = &self.client_request_id {
            write!(f, " [client-request-id {id}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for GraphError {}

fn kind_of(status: u16) -> ErrorKind {
    match status {
        429 => ErrorKind::Throttled,
        500 | 502 | 503 | 504 => ErrorKind::Server,
        400 => ErrorKind::BadRequest,
        401 => ErrorKind::Unauthorized,
        403 => ErrorKind::Forbidden,
        404 => ErrorKind::NotFound,
        409 => ErrorKind::Conflict,
        424 => ErrorKind::FailedDependency,
        _ => ErrorKind::Other,
    }
}

/// The longest `Retry-After` believed; a longer one is read as this.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// `Retry-After`: whole or decimal seconds, or an HTTP date; at most
/// [`MAX_RETRY_AFTER`].
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0)
            .then(|| Duration::from_secs_f64(secs.min(MAX_RETRY_AFTER.as_secs_f64())));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO)
            .min(MAX_RETRY_AFTER),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(status: u16, body: &str, op: Option<Operation>) -> GraphError {
        let mut h = HeaderMap::new();
        h.insert("request-id", "rid-1".parse().unwrap());
        h.insert("retry-after", "2.5".parse().unwrap());
        GraphError::from_status(status, &h, body.as_bytes(), Some("crid"), op)
    }

    #[test]
    fn parses_graph_error_body() {
        let e = err(
            403,
            r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation.","innerError":{"date":"2023-11-01T07:13:57","request-id":"x","client-request-id":"crid"}}}"#,
            Some(Operation::ResetPassword),
        );
        assert_eq!(e.kind, ErrorKind::Forbidden);
        assert_eq!(e.code.as_deref(), Some("Authorization_RequestDenied"));
        assert_eq!(e.request_id.as_deref(), Some("rid-1"));
        assert_eq!(e.retry_after, Some(Duration::from_millis(2500)));
        assert!(!e.is_retryable());
        let text = e.describe("a@b.com", "reset");
        assert!(text.contains("user `a@b.com`, step `reset`"), "{text}");
        assert!(
            text.contains("Authorization_RequestDenied (HTTP 403)"),
            "{text}"
        );
        assert!(text.contains("[request-id rid-1]"), "{text}");
        assert!(
            text.contains("User-PasswordProfile.ReadWrite.All"),
            "{text}"
        );
        assert!(text.contains("User Administrator"), "{text}");
    }

    #[test]
    fn classifies() {
        for (status, retry) in [
            (429, true),
            (500, true),
            (503, true),
            (504, true),
            (400, false),
            (401, false),
            (403, false),
            (404, false),
            (409, false),
        ] {
            assert_eq!(err(status, "", None).is_retryable(), retry, "{status}");
        }
    }

    #[test]
    fn only_gateway_errors_and_unreadable_successes_leave_the_fate_unknown() {
        for (status, unknown) in [
            (502, true),
            (504, true),
            (500, false),
            (503, false),
            (429, false),
            (400, false),
            (404, false),
        ] {
            let e = err(status, "<html>gateway</html>", None);
            assert_eq!(e.fate_unknown, unknown, "{status}");
            assert!(e.is_retryable() || !unknown, "{status}");
        }
        let e = GraphError::unreadable_success("garbage".into(), None, None);
        assert_eq!(e.kind, ErrorKind::InvalidResponse);
        assert!(e.fate_unknown && !e.is_retryable());
        assert!(!GraphError::invalid_response("x".into(), None, None).fate_unknown);
    }

    #[test]
    fn synced_user_hint() {
        let e = err(
            400,
            r#"{"error":{"code":"Request_BadRequest","message":"Unable to update the specified properties for on-premises mastered Directory Sync objects or objects currently undergoing migration."}}"#,
            Some(Operation::SetAccountEnabled),
        );
        assert!(e.hint().unwrap().contains("on-premises"));
    }

    #[test]
    fn non_json_bodies_are_kept_short() {
        let e = err(502, &"x".repeat(10_000), None);
        assert_eq!(e.message, "HTTP 502 without a Graph error body");
        assert!(e.is_retryable());
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("10"), Some(Duration::from_secs(10)));
        assert_eq!(
            parse_retry_after("2.128"),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }

    /// Any JSON value: the shapes an error body can take when a proxy, a
    /// load balancer or a changed service answers instead of Graph.
    fn json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        use serde_json::Value;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            prop::sample::select(vec![
                "error",
                "code",
                "message",
                "innerError",
                "request-id",
                "TooManyRequests",
                ""
            ])
            .prop_map(Value::from),
            ".{0,12}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop::sample::select(vec![
                            "error",
                            "code",
                            "message",
                            "innerError",
                            "innererror",
                            "request-id",
                            "client-request-id",
                            "date",
                            "x",
                        ]),
                        inner,
                    ),
                    0..5,
                )
                .prop_map(|kv| Value::Object(
                    kv.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
            ]
        })
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(1024))]

        /// Whatever JSON comes back, the error keeps the status, takes
        /// `error.code` only when it is text, and says something short.
        #[test]
        fn arbitrary_json_bodies(value in json(), status in 100u16..1000, wrap in proptest::prelude::any::<bool>()) {
            let value = if wrap { serde_json::json!({ "error": value }) } else { value };
            let body = serde_json::to_vec(&value).unwrap();
            let e = GraphError::from_status(status, &HeaderMap::new(), &body, Some("crid"), None);
            proptest::prop_assert_eq!(e.status, Some(status));
            if let Some(code) = &e.code {
                let quoted = serde_json::to_string(code).unwrap();
                proptest::prop_assert!(String::from_utf8_lossy(&body).contains(&quoted));
            }
            if value["error"]["message"].as_str().is_none() {
                proptest::prop_assert!(e.message.len() <= 300 || e.message.starts_with("HTTP "));
            }
            proptest::prop_assert_eq!(e.client_request_id.is_some(), true);
            let _ = (e.hint(), e.describe("u@contoso.com", "s"), e.to_string());
        }

        /// Any header text as `Retry-After`: a duration of at most an hour,
        /// or none.
        #[test]
        fn arbitrary_retry_after(v in ".{0,40}", secs in proptest::prelude::any::<f64>()) {
            for text in [v, secs.to_string()] {
                if let Some(d) = parse_retry_after(&text) {
                    proptest::prop_assert!(d <= MAX_RETRY_AFTER, "{text:?} -> {d:?}");
                }
            }
        }
    }

    #[test]
    fn far_future_retry_after_dates_are_capped() {
        assert_eq!(
            parse_retry_after("Fri, 31 Dec 9999 23:59:59 GMT"),
            Some(MAX_RETRY_AFTER)
        );
        assert_eq!(parse_retry_after("1e300"), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("NaN"), None);
        assert_eq!(parse_retry_after("inf"), None);
    }
}
