//! A Graph on loopback for unit tests: answers GETs (alone or as `$batch`
//! items) from a table keyed by the decoded path and query, and counts
//! what it got; and a client for it whose token carries chosen claims.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::IntoResponse;
use serde_json::{Value, json};

/// `%XX` escapes decoded.
pub fn decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let (mut out, mut i) = (Vec::with_capacity(b.len()), 0);
    while let Some(&c) = b.get(i) {
        if c == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[derive(Default)]
pub struct Counts {
    pub direct: AtomicU64,
    pub envelopes: AtomicU64,
    pub items: AtomicU64,
    pub paths: Mutex<Vec<String>>,
}

pub struct Fake {
    pub routes: HashMap<String, (u16, Value)>,
    pub counts: Counts,
}

impl Fake {
    fn answer(&self, path_and_query: &str) -> (u16, Value) {
        let key = decode(path_and_query).unwrap_or_else(|| path_and_query.to_owned());
        self.counts.paths.lock().unwrap().push(key.clone());
        self.routes.get(&key).cloned().unwrap_or_else(|| {
            (
                404,
                json!({"error": {"code": "Request_ResourceNotFound", "message": key}}),
            )
        })
    }
}

async fn handle(State(fake): State<Arc<Fake>>, req: Request) -> axum::response::Response {
    let pq = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let pq = pq.strip_prefix("/v1.0").unwrap_or(&pq).to_owned();
    if pq == "/$batch" {
        fake.counts.envelopes.fetch_add(1, Ordering::Relaxed);
        let body: Bytes = axum::body::to_bytes(req.into_body(), 1 << 20)
            .await
            .unwrap_or_default();
        let v: Value = serde_json::from_slice(&body).unwrap_or_default();
        let mut responses = vec![];
        for item in v["requests"].as_array().cloned().unwrap_or_default() {
            fake.counts.items.fetch_add(1, Ordering::Relaxed);
            let (status, body) = fake.answer(item["url"].as_str().unwrap_or(""));
            responses.push(json!({"id": item["id"], "status": status, "body": body}));
        }
        return axum::Json(json!({ "responses": responses })).into_response();
    }
    fake.counts.direct.fetch_add(1, Ordering::Relaxed);
    let (status, body) = fake.answer(&pq);
    (
        axum::http::StatusCode::from_u16(status).unwrap_or_default(),
        axum::Json(body),
    )
        .into_response()
}

/// Serves `fake` on 127.0.0.1; returns its URL.
pub async fn serve(fake: Arc<Fake>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(handle).with_state(fake);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// A client for the fake at `url`, with a pre-issued token whose `oid`
/// claim is `oid` (its signature is not checked by anyone).
pub fn client(url: &str, oid: Option<&str>) -> crate::graph::GraphClient {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use crate::graph::auth::{Credential, TokenProvider};
    use crate::graph::client::{ClientOptions, http_client};
    use crate::graph::cloud::{Cloud, Endpoints};
    let endpoints = Endpoints::resolve(Cloud::Global, Some(url), Some(url)).unwrap();
    let http = http_client(&ClientOptions::default(), url).unwrap();
    let claims = json!({"tid": "t", "oid": oid, "roles": [], "exp": 4_102_444_800_i64});
    let token = format!(
        "e30.{}.sig",
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
    );
    let tokens = Arc::new(TokenProvider::new(
        http.clone(),
        endpoints.clone(),
        Credential::Token {
            token: secrecy::SecretString::from(token),
            source: "a test".into(),
        },
    ));
    crate::graph::GraphClient::new(http, endpoints, tokens)
}

/// A fake answering `routes` (keys: decoded request paths).
pub fn with(routes: impl IntoIterator<Item = (String, (u16, Value))>) -> Arc<Fake> {
    Arc::new(Fake {
        routes: routes.into_iter().collect(),
        counts: Counts::default(),
    })
}

/// The key a request is answered by.
pub fn key(req: &crate::graph::GraphRequest) -> String {
    decode(&req.path).unwrap_or_else(|| req.path.clone())
}
