//! A hostile proxy between the real binary and the emulator: it forwards
//! every Graph request to the emulator (so changes really happen there) and
//! then mutates chosen answers the way a broken gateway or a lying server
//! could: a `$batch` answer missing an item or repeating an item id, a 502
//! or 504 after the change went through, a 2xx whose body is garbage, two
//! users' reads swapped, a user read back with an empty id.
//!
//! Each test runs `remedy run workflows/incident-response.yaml --yes`
//! through the proxy and checks the emulator's own counters: no user reset
//! or revoked twice, `secrets.csv` holds the password the emulator has, and
//! no outcome says `failed` for a change the emulator shows happened.
//! Loopback only; every run is bounded in time.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Response, StatusCode};
use serde_json::{Value, json};

use crate::support::{EmulatorProcess, remedy, run};

/// What the proxy does to the answers it forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mutation {
    /// Removes a reset's item from the `$batch` answer (once per user).
    DropResetItem,
    /// Adds a second answer (a 503) under a reset item's id (once per user).
    DuplicateResetItem,
    /// Forwards a reset, then answers this gateway status instead of the
    /// emulator's answer (once per user; the whole `$batch` when batched).
    GatewayAfterReset(u16),
    /// Forwards a reset, then answers 200 with a body that is not JSON
    /// (once per user; the whole `$batch` when batched).
    GarbageAfterReset,
    /// Swaps the answers of two users' reads inside a `$batch` (once).
    SwapUserReads,
    /// Answers every read of [`EMPTY_ID_USER`] with `"id": ""`.
    EmptyId,
    /// Answers every reset (alone or in a `$batch`) with a 400 that quotes
    /// the new password in several spellings, with terminal escapes, line
    /// breaks and a bidi override around it; alone, every second one as a
    /// plain-text body quoting the request.
    EchoPassword,
    /// Refuses the token request with an AADSTS description (and trace id)
    /// that quote the client secret, with terminal escapes.
    EchoClientSecret,
}

/// The user whose reads come back without an id.
const EMPTY_ID_USER: &str = "user00001@contoso.onmicrosoft.com";

struct Shared {
    upstream: String,
    client: reqwest::Client,
    mutation: Mutation,
    /// Users (request URLs) whose answer was already mutated once.
    done: Mutex<HashSet<String>>,
    /// Answers mutated.
    mutated: AtomicU64,
    /// Requests addressed to `/users/` without an id (single or batched).
    requests_without_id: AtomicU64,
    /// Users whose reads were swapped, lower-cased UPNs.
    swapped: Mutex<Vec<String>>,
}

impl Shared {
    fn first_time(&self, key: &str) -> bool {
        self.done.lock().unwrap().insert(key.to_owned())
    }
}

/// A running proxy on 127.0.0.1 (its runtime lives on its own thread until
/// the test process ends).
struct Proxy {
    url: String,
    shared: Arc<Shared>,
}

impl Proxy {
    fn start(upstream: &str, mutation: Mutation) -> Proxy {
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client: reqwest::Client::builder()
                .no_proxy()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            mutation,
            done: Mutex::new(HashSet::new()),
            mutated: AtomicU64::new(0),
            requests_without_id: AtomicU64::new(0),
            swapped: Mutex::new(Vec::new()),
        });
        let (tx, rx) = std::sync::mpsc::channel();
        let state = shared.clone();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                tx.send(listener.local_addr().unwrap()).unwrap();
                let app = axum::Router::new().fallback(forward).with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        let addr = rx.recv_timeout(Duration::from_secs(10)).unwrap();
        Proxy {
            url: format!("http://{addr}"),
            shared,
        }
    }

    fn mutated(&self) -> u64 {
        self.shared.mutated.load(Ordering::Relaxed)
    }
}

async fn forward(State(s): State<Arc<Shared>>, req: Request) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let body = axum::body::to_bytes(body, 16 << 20)
        .await
        .unwrap_or_default();
    let path = parts.uri.path().to_owned();
    let target = format!(
        "{}{}",
        s.upstream,
        parts.uri.path_and_query().map_or("/", |p| p.as_str())
    );
    let mut rb = s.client.request(parts.method.clone(), target);
    for (name, value) in &parts.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "accept-encoding" | "connection"
        ) {
            rb = rb.header(name, value);
        }
    }
    count_requests_without_id(&s, parts.method.as_str(), &path, &body);
    // The token is asked for this proxy's URL; the emulator grants one for
    // Graph's (which it accepts as its own).
    let body = if path.ends_with("/oauth2/v2.0/token") {
        url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(url::form_urlencoded::parse(&body).map(|(k, v)| {
                let v = if k == "scope" {
                    "https://graph.microsoft.com/.default".into()
                } else {
                    v
                };
                (k, v)
            }))
            .finish()
            .into_bytes()
    } else {
        body.to_vec()
    };
    let resp = match rb.body(body.clone()).send().await {
        Ok(r) => r,
        Err(_) => return reply(StatusCode::BAD_GATEWAY, &[], b"upstream failed".to_vec()),
    };
    let status = resp.status().as_u16();
    let headers: Vec<(String, HeaderValue)> = resp
        .headers()
        .iter()
        .filter(|(n, _)| {
            !matches!(
                n.as_str(),
                "content-length" | "transfer-encoding" | "content-encoding" | "connection"
            )
        })
        .map(|(n, v)| (n.as_str().to_owned(), v.clone()))
        .collect();
    let answer = resp.bytes().await.unwrap_or_default().to_vec();
    let (status, answer) = mutate(&s, parts.method.as_str(), &path, &body, status, answer);
    reply(
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
        &headers,
        answer,
    )
}

fn reply(status: StatusCode, headers: &[(String, HeaderValue)], body: Vec<u8>) -> Response<Body> {
    let mut r = Response::builder().status(status);
    for (n, v) in headers {
        r = r.header(n.as_str(), v);
    }
    r.body(Body::from(body)).unwrap()
}

/// One request inside a `$batch` body.
struct Item {
    id: String,
    method: String,
    url: String,
    reset: bool,
}

fn batch_items(body: &[u8]) -> Vec<Item> {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    v["requests"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|r| Item {
                    id: r["id"].as_str().unwrap_or_default().to_owned(),
                    method: r["method"].as_str().unwrap_or_default().to_owned(),
                    url: r["url"].as_str().unwrap_or_default().to_owned(),
                    reset: r["body"].get("passwordProfile").is_some(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn is_reset(method: &str, body: &[u8]) -> bool {
    method == "PATCH" && String::from_utf8_lossy(body).contains("passwordProfile")
}

/// `/users/{key}?$select=…` (a user read, not a sub-resource).
fn user_read_key(url: &str) -> Option<String> {
    let rest = url.strip_prefix("/users/")?;
    let key = rest.split('?').next()?;
    (!key.contains('/')).then(|| {
        url::form_urlencoded::parse(format!("k={key}").as_bytes())
            .next()
            .map(|(_, v)| v.to_lowercase())
            .unwrap_or_default()
    })
}

fn count_requests_without_id(s: &Shared, method: &str, path: &str, body: &[u8]) {
    let empty = |_: &str, url: &str| {
        let path = url.split('?').next().unwrap_or_default();
        path == "/users" || path.starts_with("/users/") && path[7..].split('/').next() == Some("")
    };
    if let Some(url) = path.strip_prefix("/v1.0")
        && empty(method, url)
    {
        s.requests_without_id.fetch_add(1, Ordering::Relaxed);
    }
    if path == "/v1.0/$batch" {
        for item in batch_items(body) {
            if empty(&item.method, &item.url) {
                s.requests_without_id.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

fn hit(s: &Shared) -> u64 {
    s.mutated.fetch_add(1, Ordering::Relaxed)
}

/// The spellings a server could echo `secret` in besides the raw one:
/// JSON-escaped as serde writes it, with `\/`, every character but letters
/// and digits as `\uXXXX` (as .NET's encoder does for many), and
/// form-urlencoded.
fn spellings(secret: &str) -> Vec<String> {
    let quoted = serde_json::to_string(secret).unwrap();
    let serde = quoted[1..quoted.len() - 1].to_owned();
    let escaped: String = secret
        .encode_utf16()
        .map(|u| match char::from_u32(u32::from(u)) {
            Some(c) if c.is_ascii_alphanumeric() => c.to_string(),
            _ => format!("\\u{u:04X}"),
        })
        .collect();
    vec![
        secret.to_owned(),
        serde.clone(),
        serde.replace('/', "\\/"),
        escaped,
        url::form_urlencoded::byte_serialize(secret.as_bytes()).collect(),
    ]
}

/// An error message that quotes `pw` every way [`spellings`] knows, with
/// an ANSI escape, a line break that starts a fake line, and a bidi
/// override.
fn echo_message(pw: &str) -> String {
    format!(
        "The password '{}' does not comply with the policy.\u{1b}[2J\u{1b}[31m\r\nok: every user fixed\u{202E}",
        spellings(pw).join("' / '")
    )
}

fn mutate(
    s: &Shared,
    method: &str,
    path: &str,
    req: &[u8],
    status: u16,
    answer: Vec<u8>,
) -> (u16, Vec<u8>) {
    if s.mutation == Mutation::EchoClientSecret && path.ends_with("/oauth2/v2.0/token") {
        let secret = url::form_urlencoded::parse(req)
            .find(|(k, _)| k == "client_secret")
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default();
        hit(s);
        let description = format!(
            "AADSTS7000215: Invalid client secret provided: '{secret}' (sent as {}; {})\u{1b}[2J\r\nTrace ID: x",
            String::from_utf8_lossy(req),
            spellings(&secret).join(" "),
        );
        let body = json!({
            "error": "invalid_client",
            "error_description": description,
            "error_codes": [7000215],
            "trace_id": format!("{secret}\u{202E}"),
        });
        return (401, serde_json::to_vec(&body).unwrap());
    }
    let Some(url) = path.strip_prefix("/v1.0") else {
        return (status, answer);
    };
    let batch = url == "/$batch" && method == "POST";
    let items = if batch { batch_items(req) } else { Vec::new() };
    match s.mutation {
        Mutation::EchoPassword if batch && status == 200 => {
            let passwords: HashMap<String, String> = serde_json::from_slice::<Value>(req)
                .ok()
                .and_then(|v| v["requests"].as_array().cloned())
                .unwrap_or_default()
                .iter()
                .filter_map(|r| {
                    let pw = r["body"]["passwordProfile"]["password"].as_str()?;
                    Some((r["id"].as_str()?.to_owned(), pw.to_owned()))
                })
                .collect();
            let Ok(mut v) = serde_json::from_slice::<Value>(&answer) else {
                return (status, answer);
            };
            for r in v["responses"].as_array_mut().into_iter().flatten() {
                let Some(pw) = r["id"].as_str().and_then(|id| passwords.get(id)) else {
                    continue;
                };
                hit(s);
                *r = json!({
                    "id": r["id"],
                    "status": 400,
                    "headers": {"Content-Type": "application/json"},
                    "body": {"error": {"code": "Request_BadRequest", "message": echo_message(pw)}},
                });
            }
            (status, serde_json::to_vec(&v).unwrap())
        }
        Mutation::EchoPassword if is_reset(method, req) => {
            let pw = serde_json::from_slice::<Value>(req).unwrap_or(Value::Null)["passwordProfile"]
                ["password"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let n = hit(s);
            if n.is_multiple_of(2) {
                let body =
                    json!({"error": {"code": "Request_BadRequest", "message": echo_message(&pw)}});
                (400, serde_json::to_vec(&body).unwrap())
            } else {
                let mut text = b"bad request \x1b[31m".to_vec();
                text.extend_from_slice(req);
                text.extend_from_slice(b"\r\nok: done");
                (400, text)
            }
        }

        Mutation::GatewayAfterReset(_) | Mutation::GarbageAfterReset => {
            let fire = if batch {
                // Every reset of the batch is marked, so each user is hit once.
                let fresh: Vec<bool> = items
                    .iter()
                    .filter(|i| i.reset)
                    .map(|i| s.first_time(&i.url))
                    .collect();
                fresh.contains(&true)
            } else {
                is_reset(method, req) && s.first_time(url)
            };
            if !fire {
                return (status, answer);
            }
            hit(s);
            match s.mutation {
                Mutation::GatewayAfterReset(code) => {
                    (code, b"<html><body>Bad gateway</body></html>".to_vec())
                }
                _ => (200, b"\x00\xffnot json at all".to_vec()),
            }
        }
        Mutation::DropResetItem | Mutation::DuplicateResetItem if batch && status == 200 => {
            let mut v: Value = match serde_json::from_slice(&answer) {
                Ok(v) => v,
                Err(_) => return (status, answer),
            };
            let targets: Vec<String> = items
                .iter()
                .filter(|i| i.reset && s.first_time(&i.url))
                .map(|i| i.id.clone())
                .collect();
            let Some(responses) = v["responses"].as_array_mut() else {
                return (status, answer);
            };
            for id in &targets {
                hit(s);
                if s.mutation == Mutation::DropResetItem {
                    responses.retain(|r| r["id"] != json!(id));
                } else {
                    responses.push(json!({
                        "id": id,
                        "status": 503,
                        "body": {"error": {"code": "ServiceUnavailable", "message": "busy"}}
                    }));
                }
            }
            (status, serde_json::to_vec(&v).unwrap())
        }
        Mutation::SwapUserReads if batch && status == 200 => {
            let mut v: Value = match serde_json::from_slice(&answer) {
                Ok(v) => v,
                Err(_) => return (status, answer),
            };
            let reads: HashMap<String, String> = items
                .iter()
                .filter(|i| i.method == "GET")
                .filter_map(|i| user_read_key(&i.url).map(|k| (i.id.clone(), k)))
                .collect();
            let Some(responses) = v["responses"].as_array_mut() else {
                return (status, answer);
            };
            let ok: Vec<usize> = (0..responses.len())
                .filter(|&n| {
                    responses[n]["status"] == 200
                        && responses[n]["id"]
                            .as_str()
                            .is_some_and(|id| reads.contains_key(id))
                })
                .collect();
            if ok.len() < 2 || !s.first_time("swap") {
                return (status, answer);
            }
            let (a, b) = (ok[0], ok[1]);
            let body_a = responses[a]["body"].take();
            let body_b = std::mem::replace(&mut responses[b]["body"], body_a);
            responses[a]["body"] = body_b;
            for n in [a, b] {
                let id = responses[n]["id"].as_str().unwrap_or_default();
                s.swapped.lock().unwrap().push(reads[id].clone());
            }
            hit(s);
            (status, serde_json::to_vec(&v).unwrap())
        }
        Mutation::EmptyId if method == "GET" || batch => {
            let empty = |body: &mut Value| {
                if body["userPrincipalName"]
                    .as_str()
                    .is_some_and(|u| u.eq_ignore_ascii_case(EMPTY_ID_USER))
                {
                    body["id"] = json!("");
                    return true;
                }
                false
            };
            let Ok(mut v) = serde_json::from_slice::<Value>(&answer) else {
                return (status, answer);
            };
            let mut changed = false;
            if batch {
                for r in v["responses"].as_array_mut().into_iter().flatten() {
                    changed |= empty(&mut r["body"]);
                }
            } else if status == 200 {
                changed = empty(&mut v);
            }
            if !changed {
                return (status, answer);
            }
            hit(s);
            (status, serde_json::to_vec(&v).unwrap())
        }
        _ => (status, answer),
    }
}

fn users_csv(dir: &Path, n: usize) -> PathBuf {
    let mut text = String::from("userPrincipalName,displayName\n");
    for i in 1..=n {
        text.push_str(&format!("user{i:05}@contoso.onmicrosoft.com,User {i}\n"));
    }
    let path = dir.join("users.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

fn run_dir(state: &Path) -> PathBuf {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(state.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    dirs.pop().expect("a run directory")
}

/// What a run through the proxy left behind.
struct Hostile {
    code: i32,
    output: String,
    stats: Value,
    /// Emulator users by lower-cased UPN.
    users: HashMap<String, Value>,
    /// `secrets.csv`: lower-cased UPN → password.
    secrets: HashMap<String, String>,
    /// `results.csv`: (user, step) → status.
    results: HashMap<(String, String), String>,
    proxy: Proxy,
}

const USERS: usize = 5;

/// A playbook without the privileged-role guard: the user read is the only
/// request before the changes (the guard's role lookup would otherwise
/// stop a user read with an empty id first).
const UNGUARDED: &str = "api_version: remedy/v1
name: unguarded
target:
  provider: graph
input:
  key: userPrincipalName
steps:
  - id: reset-password
    name: Reset the user's password
    action: reset_password
    with:
      password: generate
  - id: revoke-sessions
    name: Sign the user out everywhere
    action: revoke_sessions
";

/// `remedy run workflows/incident-response.yaml --yes` for [`USERS`] users
/// with Graph behind a proxy that applies `mutation`.
fn hostile_run(mutation: Mutation) -> Hostile {
    hostile_run_with(mutation, None)
}

/// The same with `playbook` (text) instead of the incident-response one.
fn hostile_run_with(mutation: Mutation, playbook: Option<&str>) -> Hostile {
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), USERS);
    let playbook = match playbook {
        Some(text) => {
            let path = dir.path().join("playbook.yaml");
            std::fs::write(&path, text).unwrap();
            path
        }
        None => crate::support::root().join("workflows/incident-response.yaml"),
    };
    // A little latency keeps the users in step, so their requests share
    // `$batch` calls.
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap(), "--latency-ms", "20"]);
    let proxy = Proxy::start(&emu.url, mutation);
    let state = dir.path().join("state");
    let mut env = emu.client_env("hostile-proxy", "hostile-proxy-secret");
    env[3].1.clone_from(&proxy.url);
    env[4].1.clone_from(&proxy.url);
    let mut cmd = remedy();
    cmd.arg("run")
        .arg(&playbook)
        .arg("--users")
        .arg(&csv)
        .args(["--yes", "--progress", "none", "--state-dir"])
        .arg(&state)
        .envs(env)
        .env_remove("AZURE_ACCESS_TOKEN")
        .env_remove("GITHUB_STEP_SUMMARY")
        .timeout(Duration::from_secs(120));
    let r = run(&mut cmd);
    let output = format!("{}\n{}", r.stdout, r.stderr);
    assert!(!output.contains("panicked"), "{output}");
    let users = emu
        .get_json("/_users")
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            let upn = u["userPrincipalName"].as_str().unwrap().to_lowercase();
            (upn, u.clone())
        })
        .collect();
    assert!(state.join("runs").exists(), "no run started: {output}");
    let run_dir = run_dir(&state);
    let mut secrets = HashMap::new();
    if run_dir.join("secrets.csv").exists() {
        let mut rd = csv::Reader::from_path(run_dir.join("secrets.csv")).unwrap();
        for rec in rd.records() {
            let rec = rec.unwrap();
            secrets.insert(rec[0].to_lowercase(), rec[1].to_owned());
        }
    }
    let mut results = HashMap::new();
    let mut rd = csv::Reader::from_path(run_dir.join("results.csv")).unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        results.insert(
            (rec[1].to_lowercase(), rec[2].to_owned()),
            rec[3].to_owned(),
        );
    }
    Hostile {
        code: r.code,
        output,
        stats: emu.get_json("/_stats"),
        users,
        secrets,
        results,
        proxy,
    }
}

impl Hostile {
    fn count(&self, upn: &str, field: &str) -> u64 {
        self.users[upn][field].as_u64().unwrap_or(0)
    }

    fn status(&self, upn: &str, step: &str) -> &str {
        self.results
            .get(&(upn.to_owned(), step.to_owned()))
            .map_or("", String::as_str)
    }

    /// What must hold whatever the proxy did: nothing twice, `secrets.csv`
    /// holds the service's password, no change that happened is `failed`,
    /// and nothing reported changed that did not happen.
    #[track_caller]
    fn assert_safe(&self) {
        let ctx = format!("{}\nstats: {}", self.output, self.stats);
        assert_eq!(self.stats["users_reset_more_than_once"], 0, "{ctx}");
        assert_eq!(self.stats["users_revoked_more_than_once"], 0, "{ctx}");
        assert!(self.proxy.mutated() > 0, "the proxy mutated nothing\n{ctx}");
        for upn in self.users.keys() {
            let resets = self.count(upn, "resetCount");
            let revokes = self.count(upn, "revokeCount");
            let reset = self.status(upn, "reset-password");
            let revoke = self.status(upn, "revoke-sessions");
            if resets > 0 {
                assert_eq!(
                    self.users[upn]["passwordSha256"],
                    sha256_hex(self.secrets.get(upn).map_or("", String::as_str)),
                    "{upn}: secrets.csv must hold the service's password\n{ctx}"
                );
                assert_ne!(reset, "failed", "{upn}: a reset that happened\n{ctx}");
            } else {
                assert_ne!(reset, "changed", "{upn}: no reset happened\n{ctx}");
            }
            if revokes > 0 {
                assert_ne!(revoke, "failed", "{upn}: a revocation that happened\n{ctx}");
            } else {
                assert_ne!(revoke, "changed", "{upn}: no revocation happened\n{ctx}");
            }
        }
    }

    /// Every user was reset and revoked exactly once and the run succeeded.
    #[track_caller]
    fn assert_all_done_once(&self) {
        let ctx = format!("{}\nstats: {}", self.output, self.stats);
        assert_eq!(self.code, 0, "{ctx}");
        assert_eq!(self.stats["resets"], USERS, "{ctx}");
        for upn in self.users.keys() {
            assert_eq!(self.count(upn, "resetCount"), 1, "{upn}\n{ctx}");
            assert_eq!(self.count(upn, "revokeCount"), 1, "{upn}\n{ctx}");
            assert_eq!(
                self.status(upn, "reset-password"),
                "changed",
                "{upn}\n{ctx}"
            );
            assert_eq!(
                self.status(upn, "revoke-sessions"),
                "changed",
                "{upn}\n{ctx}"
            );
        }
    }
}

#[test]
fn a_batch_answer_missing_a_reset_is_read_back_not_resent() {
    let h = hostile_run(Mutation::DropResetItem);
    h.assert_safe();
    h.assert_all_done_once();
}

#[test]
fn a_batch_answer_with_a_repeated_item_id_is_read_back_not_resent() {
    let h = hostile_run(Mutation::DuplicateResetItem);
    h.assert_safe();
    h.assert_all_done_once();
}

#[test]
fn a_gateway_502_or_504_after_a_reset_is_read_back_not_resent() {
    for code in [502, 504] {
        let h = hostile_run(Mutation::GatewayAfterReset(code));
        h.assert_safe();
        h.assert_all_done_once();
    }
}

#[test]
fn an_unreadable_2xx_after_a_reset_is_not_reported_failed() {
    let h = hostile_run(Mutation::GarbageAfterReset);
    h.assert_safe();
    h.assert_all_done_once();
}

#[test]
fn swapped_reads_never_give_a_user_another_users_password() {
    let h = hostile_run(Mutation::SwapUserReads);
    h.assert_safe();
    let swapped = h.proxy.shared.swapped.lock().unwrap().clone();
    assert_eq!(swapped.len(), 2, "{}", h.output);
    for upn in &swapped {
        assert_eq!(h.count(upn, "resetCount"), 0, "{upn}\n{}", h.output);
        assert_eq!(h.status(upn, "reset-password"), "failed", "{upn}");
    }
    assert!(
        h.output.contains("answered for another user"),
        "{}",
        h.output
    );
}

#[test]
fn a_user_read_back_without_an_id_is_never_written() {
    let h = hostile_run_with(Mutation::EmptyId, Some(UNGUARDED));
    h.assert_safe();
    assert_eq!(
        h.proxy.shared.requests_without_id.load(Ordering::Relaxed),
        0,
        "{}",
        h.output
    );
    assert_eq!(h.count(EMPTY_ID_USER, "resetCount"), 0);
    assert_eq!(h.status(EMPTY_ID_USER, "reset-password"), "failed");
    assert!(h.output.contains("not a GUID"), "{}", h.output);
}

/// A user's template password: a quote, a backslash, a slash, `<`, `>`,
/// `+` and a non-ASCII letter (each JSON-escaped differently by some
/// encoder), and `Zz9`, which occurs in no other text.
fn echo_password(i: usize) -> String {
    format!("Echo\"Me\\Now/<{i}>+é-Zz9!")
}

const ECHO_PLAYBOOK: &str = "api_version: remedy/v1
name: echo
target:
  provider: graph
input:
  key: userPrincipalName
  columns: [userPrincipalName, password]
guards:
  max_failures: 100
steps:
  - id: reset-password
    name: Reset the user's password
    action: reset_password
    with:
      password: \"{{ row.password }}\"
";

/// `text` as it is, with XML entities decoded, and without backslashes
/// (Markdown and JSON escapes): the forms a secret could hide in.
fn decoded(text: &str) -> [String; 3] {
    [
        text.to_owned(),
        text.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
        text.replace('\\', ""),
    ]
}

/// Every file under `dir`, as text.
fn all_files(dir: &Path, out: &mut String) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            all_files(&path, out);
        } else {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
            out.push('\n');
        }
    }
}

/// `secret` occurs in `haystack` in none of its spellings, in none of the
/// decoded forms, nor does `Zz9`.
#[track_caller]
fn assert_never(haystack: &str, secret: &str, what: &str) {
    for text in decoded(haystack) {
        assert!(
            !text.contains("Zz9"),
            "{what}: a secret's marker in\n{text}"
        );
        for form in spellings(secret)
            .into_iter()
            .chain([secret.replace('\\', "")])
        {
            assert!(!text.contains(&form), "{what}: `{form}` in\n{text}");
        }
    }
}

/// No character a terminal or a viewer would obey: C0 other than the
/// line break, DEL, C1, bidi overrides and isolates.
#[track_caller]
fn assert_no_control(text: &str, what: &str) {
    for c in text.chars() {
        assert!(
            c == '\n'
                || !(c.is_control()
                    || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
            "{what}: {c:?} in\n{text}"
        );
    }
}

/// A server that answers each reset with a 400 quoting the new password
/// (raw, JSON-escaped three ways, form-encoded, and as the request body
/// itself), with an ANSI escape, a CR/LF that starts a fake line and a
/// bidi override: alone and inside `$batch`. Neither the journal, nor any
/// report (`results.csv`, `results.jsonl`, `junit.xml`, `summary.md`,
/// `manifest.json`), nor stdout or stderr holds any spelling of any
/// password; the reasons say `[redacted]`, are one line each, and keep no
/// control character.
#[test]
fn a_server_echoing_the_password_never_gets_it_kept_or_shown() {
    const N: usize = 4;
    for no_batch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let csv_path = dir.path().join("users.csv");
        let mut w = csv::Writer::from_path(&csv_path).unwrap();
        w.write_record(["userPrincipalName", "password"]).unwrap();
        for i in 1..=N {
            w.write_record([
                format!("user{i:05}@contoso.onmicrosoft.com"),
                echo_password(i),
            ])
            .unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let playbook = dir.path().join("echo.yaml");
        std::fs::write(&playbook, ECHO_PLAYBOOK).unwrap();
        let emu =
            EmulatorProcess::start(&["--users", csv_path.to_str().unwrap(), "--latency-ms", "20"]);
        let proxy = Proxy::start(&emu.url, Mutation::EchoPassword);
        let state = dir.path().join("state");
        let mut env = emu.client_env("hostile-proxy", "hostile-proxy-secret");
        env[3].1.clone_from(&proxy.url);
        env[4].1.clone_from(&proxy.url);
        let mut cmd = remedy();
        cmd.arg("run")
            .arg(&playbook)
            .arg("--users")
            .arg(&csv_path)
            .args(["--yes", "--progress", "none", "--state-dir"])
            .arg(&state)
            .envs(env)
            .env_remove("AZURE_ACCESS_TOKEN")
            .env_remove("GITHUB_STEP_SUMMARY")
            .timeout(Duration::from_secs(120));
        if no_batch {
            cmd.arg("--no-batch");
        }
        let r = run(&mut cmd);
        let what = if no_batch { "alone" } else { "in $batch" };
        let output = format!("{}\n{}", r.stdout, r.stderr);
        assert!(!output.contains("panicked"), "{output}");
        assert_eq!(r.code, 1, "{what}: every reset failed\n{output}");
        assert!(proxy.mutated() >= N as u64, "{what}: {}", proxy.mutated());

        let mut kept = String::new();
        all_files(&state, &mut kept);
        for i in 1..=N {
            assert_never(&output, &echo_password(i), what);
            assert_never(&kept, &echo_password(i), what);
        }
        assert_no_control(&output, what);

        let run = run_dir(&state);
        let mut rd = csv::Reader::from_path(run.join("results.csv")).unwrap();
        let mut reasons = 0;
        for rec in rd.records() {
            let rec = rec.unwrap();
            assert_eq!(&rec[3], "failed", "{what}: {rec:?}");
            let reason = &rec[4];
            assert!(reason.contains("[redacted]"), "{what}: {reason}");
            assert!(
                reason.contains("\\u{1b}[") || reason.contains("bad request"),
                "{what}: the escape is shown, not obeyed: {reason}"
            );
            assert_no_control(reason, what);
            assert!(!reason.contains('\n'), "{what}: {reason:?}");
            reasons += 1;
        }
        assert_eq!(reasons, N, "{what}");
        let jsonl = std::fs::read_to_string(run.join("results.jsonl")).unwrap();
        for line in jsonl.lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            assert_no_control(v["reason"].as_str().unwrap_or_default(), what);
        }
        let journal = std::fs::read_to_string(run.join("journal.jsonl")).unwrap();
        assert!(journal.contains("[redacted]"), "{what}: {journal}");
    }
}

/// A token endpoint that refuses the request with a description and a
/// trace id quoting the client secret (raw, JSON-escaped, form-encoded,
/// the whole form) and an ANSI escape: `run` and `doctor` say the token
/// was refused, with `[redacted]` in place of the secret, and print no
/// spelling of it and no control character.
#[test]
fn a_token_endpoint_echoing_the_client_secret_never_gets_it_shown() {
    let secret = "Zz9\"se/cr+et\\é<x> y";
    let dir = tempfile::tempdir().unwrap();
    let csv = users_csv(dir.path(), 2);
    let emu = EmulatorProcess::start(&["--users", csv.to_str().unwrap()]);
    let proxy = Proxy::start(&emu.url, Mutation::EchoClientSecret);
    let mut env = emu.client_env("hostile-proxy", secret);
    env[3].1.clone_from(&proxy.url);
    env[4].1.clone_from(&proxy.url);
    for args in [
        vec![
            "run",
            "workflows/incident-response.yaml",
            "--users",
            csv.to_str().unwrap(),
            "--yes",
            "--progress",
            "none",
            "--state-dir",
            dir.path().join("state").to_str().unwrap(),
        ],
        vec!["doctor"],
    ] {
        let mut cmd = remedy();
        cmd.args(&args)
            .envs(env.clone())
            .env_remove("AZURE_ACCESS_TOKEN")
            .env_remove("GITHUB_STEP_SUMMARY")
            .timeout(Duration::from_secs(60));
        let r = run(&mut cmd);
        let output = format!("{}\n{}", r.stdout, r.stderr);
        assert_eq!(r.code, 2, "{output}");
        assert!(output.contains("AADSTS7000215"), "{output}");
        assert!(output.contains("[redacted]"), "{output}");
        assert_never(&output, secret, args[0]);
        assert_no_control(&output, args[0]);
    }
    assert!(proxy.mutated() >= 2);
}
