//! The HTTP side of Graph: one shared connection pool, the bearer token,
//! `client-request-id` on every request, one token refresh on 401, bounded
//! response bodies, and typed errors.
//!
//! Operations (`users.rs`) and `$batch` (`batch.rs`) describe requests as
//! [`GraphRequest`] values; this file is the only one that sends them.

use std::sync::Arc;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderMap, HeaderValue};
use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::graph::auth::Credential;
use crate::graph::auth::{AccessToken, TokenProvider};
use crate::graph::cloud::{Endpoints, is_loopback_root};
use crate::graph::error::{ErrorKind, GraphError};
use crate::graph::permissions::Operation;
use crate::graph::redact::Redactor;
use crate::graph::tls::{TlsError, TlsTrust};
use crate::graph::transport::{MAX_RESPONSE_BYTES, ReadError, read_bounded};

/// One Graph call, not yet sent. `Debug` shows the body's length only: a
/// reset's body holds the new password.
#[derive(Clone)]
pub struct GraphRequest {
    pub method: Method,
    /// Path under `/v1.0`, starting with `/`, query included.
    pub path: String,
    /// JSON body. Zeroed on drop: a reset's body holds the new password.
    pub body: Option<Zeroizing<Vec<u8>>>,
    pub operation: Operation,
    /// The secrets the body carries (a reset's new password): scrubbed out
    /// of whatever the server answers before it is kept or shown.
    pub secrets: Vec<SecretString>,
}

impl std::fmt::Debug for GraphRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphRequest")
            .field("method", &self.method)
            .field("path", &self.path)
            .field(
                "body",
                &self
                    .body
                    .as_ref()
                    .map(|b| format!("[{} bytes, not shown]", b.len())),
            )
            .field("operation", &self.operation)
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

/// A successful (2xx) answer.
#[derive(Debug, Clone)]
pub struct GraphResponse {
    pub status: u16,
    pub request_id: Option<String>,
    pub body: Vec<u8>,
    /// `x-ms-throttle-limit-percentage`: the share of a throttling limit in
    /// use, sent by Graph only past 0.8 (up to 1.8).
    pub throttle_level: Option<f64>,
    /// `x-ms-resource-unit`: what the request cost, when Graph says.
    pub resource_units: Option<f64>,
}

/// Tuning of the HTTP client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-request timeout (connect, send, answer).
    pub timeout: Duration,
    /// Which server certificates are trusted.
    pub tls: TlsTrust,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(30),
            tls: TlsTrust::system(),
        }
    }
}

/// Builds the HTTP client for calls to `root` (the Graph or the authority
/// root): rustls (aws-lc-rs) verifying with the system's roots plus
/// `--ca-file`, HTTP/2 where offered, gzip, a User-Agent naming remedy, no
/// redirects (a redirect would carry the token to another host).
///
/// A loopback root (`localhost`, 127.0.0.0/8, `::1`: the emulator) is
/// always reached directly: `HTTP_PROXY`, `HTTPS_PROXY` and `ALL_PROXY`
/// apply to other hosts only. A proxy would otherwise see the token
/// request (client secret included) and, over plain http, every password,
/// and its own loopback is not this machine's anyway.
///
/// # Errors
///
/// The TLS settings cannot be used: an unusable `--ca-file`, or no CA
/// certificate at all on the system.
pub fn http_client(options: &ClientOptions, root: &str) -> Result<reqwest::Client, TlsError> {
    let mut builder = reqwest::Client::builder()
        .user_agent(concat!("remedy/", env!("CARGO_PKG_VERSION")))
        .gzip(true)
        .timeout(options.timeout)
        .connect_timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true);
    if is_loopback_root(root) {
        builder = builder.no_proxy();
    }
    options
        .tls
        .apply(builder)
        .build()
        .map_err(|e| options.tls.build_error(&e))
}

/// A Graph client: clone it freely, clones share the pool and the token.
#[derive(Debug, Clone)]
pub struct GraphClient {
    http: reqwest::Client,
    endpoints: Endpoints,
    tokens: Arc<TokenProvider>,
}

impl GraphClient {
    pub fn new(http: reqwest::Client, endpoints: Endpoints, tokens: Arc<TokenProvider>) -> Self {
        GraphClient {
            http,
            endpoints,
            tokens,
        }
    }

    /// A client for `endpoints` signing in with `credential`: Graph calls
    /// and token requests each through the HTTP client for their own root
    /// ([`http_client`]), one shared when both roots are reached the same
    /// way.
    ///
    /// # Errors
    ///
    /// As [`http_client`].
    pub fn build(
        options: &ClientOptions,
        endpoints: Endpoints,
        credential: Credential,
    ) -> Result<Self, TlsError> {
        let graph = http_client(options, &endpoints.graph)?;
        let authority =
            if is_loopback_root(&endpoints.graph) == is_loopback_root(&endpoints.authority) {
                graph.clone()
            } else {
                http_client(options, &endpoints.authority)?
            };
        let tokens = Arc::new(TokenProvider::new(authority, endpoints.clone(), credential));
        Ok(GraphClient::new(graph, endpoints, tokens))
    }

    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    pub fn tokens(&self) -> &Arc<TokenProvider> {
        &self.tokens
    }

    /// What no text from the server may quote: `secrets` (what the request
    /// carried), the credential's secret and the access token.
    pub fn redactor(&self, secrets: &[SecretString]) -> Redactor {
        let mut r = self.tokens.redactor();
        for s in secrets {
            r.add(s.expose_secret());
        }
        r
    }

    /// Sends `req`; on a 401 gets a new token and tries once more. An
    /// error's server text is scrubbed of `req`'s secrets, the client
    /// secret and the token ([`GraphClient::redactor`]).
    pub async fn send(&self, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
        self.send_unscrubbed(req)
            .await
            .map_err(|e| e.redacted(&self.redactor(&req.secrets)))
    }

    async fn send_unscrubbed(&self, req: &GraphRequest) -> Result<GraphResponse, GraphError> {
        let op = Some(req.operation);
        let mut token = self
            .tokens
            .token()
            .await
            .map_err(|e| GraphError::auth(&e, op))?;
        let mut refreshed = false;
        loop {
            match self.send_once(req, &token).await {
                Err(e) if e.kind == ErrorKind::Unauthorized && !refreshed => {
                    refreshed = true;
                    token = self
                        .tokens
                        .refresh(&token)
                        .await
                        .map_err(|e| GraphError::auth(&e, op))?;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        req: &GraphRequest,
        token: &Arc<AccessToken>,
    ) -> Result<GraphResponse, GraphError> {
        let op = Some(req.operation);
        let crid = uuid::Uuid::new_v4().to_string();
        let url = self.graph_url(&req.path);
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", token.secret().expose_secret()))
            .map_err(|_| {
                GraphError::invalid_response(
                    "the access token holds characters not allowed in a header".into(),
                    None,
                    op,
                )
            })?;
        auth.set_sensitive(true);
        let mut rb = self
            .http
            .request(req.method.clone(), &url)
            .header(AUTHORIZATION, auth)
            .header(ACCEPT, "application/json")
            .header("client-request-id", &crid);
        if let Some(body) = &req.body {
            // reqwest takes an owned buffer; this copy is not zeroed (the
            // limit stated in SECURITY.md: hyper's buffers are not either).
            rb = rb
                .header(CONTENT_TYPE, "application/json")
                .body(body.to_vec());
        }
        let started = std::time::Instant::now();
        let resp = rb.send().await.map_err(|e| {
            tracing::debug!(method = %req.method, path = %req.path, client_request_id = %crid, error = %e, "graph call failed");
            GraphError::from_transport(&e, &crid, op)
        })?;
        let status = resp.status().as_u16();
        // Method, path, status and ids only: never a header value or a body
        // (a reset's body holds the new password).
        tracing::debug!(
            method = %req.method,
            path = %req.path,
            status,
            request_id = header(resp.headers(), "request-id").as_deref(),
            client_request_id = %crid,
            elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            "graph call"
        );
        let headers = resp.headers().clone();
        let body = read_bounded(resp).await.map_err(|e| match e {
            ReadError::Transport(e) => GraphError::from_transport(&e, &crid, op),
            ReadError::TooLarge => GraphError {
                // A 2xx too large to read was still a success.
                fate_unknown: (200..300).contains(&status),
                ..GraphError::invalid_response(
                    format!("the answer is larger than {MAX_RESPONSE_BYTES} bytes"),
                    header(&headers, "request-id"),
                    op,
                )
            },
        })?;
        if (200..300).contains(&status) {
            Ok(GraphResponse {
                status,
                request_id: header(&headers, "request-id"),
                body,
                throttle_level: throttle_level(&headers),
                resource_units: crate::graph::client::resource_units(&headers),
            })
        } else {
            Err(GraphError::from_status(
                status,
                &headers,
                &body,
                Some(&crid),
                op,
            ))
        }
    }

    /// The absolute URL of a `/v1.0` path.
    pub fn graph_url(&self, path: &str) -> String {
        self.endpoints.graph_v1(path)
    }
}

/// The `x-ms-resource-unit` header, if present and a number.
pub(crate) fn resource_units(headers: &HeaderMap) -> Option<f64> {
    headers
        .get("x-ms-resource-unit")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|u| u.is_finite() && *u >= 0.0)
}

/// The `x-ms-throttle-limit-percentage` header, if present and a number.
pub(crate) fn throttle_level(headers: &HeaderMap) -> Option<f64> {
    headers
        .get("x-ms-throttle-limit-percentage")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|l| l.is_finite() && *l >= 0.0)
}

pub(crate) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
