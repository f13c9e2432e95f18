//! `remedy emulator` as a process on 127.0.0.1, spoken to in raw HTTP:
//! Graph's paths, bodies, status codes and error shapes, throttling, faults
//! and the test hooks. (The typed client's view is in `graph.rs`.)

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

const TENANT_ID: &str = remedy::emulator::DEFAULT_TENANT_ID;
const DOMAIN: &str = "contoso.onmicrosoft.com";
const SECRET_ENV: &str = "REMEDY_EMULATOR_CLIENT_SECRET";
const ADELE_ID: &str = "8a1c0e2f-1b2c-4d3e-8f4a-5b6c7d8e9f01";
const STRONG: &str = "Xk9#mPq2$vL7wRt4";

/// A `remedy emulator` process, killed when dropped.
struct Emu {
    child: Child,
    url: String,
    http: reqwest::Client,
}

impl Emu {
    fn start(args: &[&str]) -> Self {
        Self::start_with_env(args, &[])
    }

    fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_remedy"));
        cmd.args(["emulator", "--listen", "127.0.0.1:0"])
            .args(args)
            .env_remove(SECRET_ENV)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("the emulator starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            for _ in lines {}
        });
        let guard_line = rx.recv_timeout(Duration::from_secs(30));
        let Ok(line) = guard_line else {
            let _ = child.kill();
            panic!("the emulator did not print its address within 30 s");
        };
        let url = line
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line: {line}"))
            .to_owned();
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Emu {
            child,
            url,
            http: client(Duration::from_secs(10)),
        }
    }

    fn token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.url)
    }

    async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let r = self
            .http
            .post(self.token_url(tenant))
            .form(form)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }

    async fn token(&self) -> String {
        let (status, body) = self
            .token_request(
                TENANT_ID,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", "app-1"),
                    ("client_secret", "any"),
                    ("scope", "https://graph.microsoft.com/.default"),
                ],
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// A Graph call below `/v1.0`; `body` is sent as JSON.
    async fn call(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        call_with(&self.http, &self.url, token, method, path, body)
            .await
            .unwrap()
    }

    async fn hook(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.url))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json().await.unwrap()
    }

    async fn user(&self, upn: &str) -> Value {
        let users = self.hook(&format!("/_users?upn={upn}")).await;
        users[0].clone()
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Answer {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }

    fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or_default()
    }
}

fn client(timeout: Duration) -> reqwest::Client {
    // No pooling: a connection the emulator kills is never reused.
    reqwest::Client::builder()
        .timeout(timeout)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

async fn call_with(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> reqwest::Result<Answer> {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = http
        .request(method, format!("{url}/v1.0{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let r = request.send().await?;
    let (status, headers) = (r.status(), r.headers().clone());
    let bytes = r.bytes().await?;
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap()
    };
    Ok(Answer {
        status,
        headers,
        body,
    })
}

fn seed_csv(dir: &tempfile::TempDir) -> String {
    let path = dir.path().join("seed.csv");
    std::fs::write(
        &path,
        format!(
            "userPrincipalName,id,displayName,givenName,surname,accountEnabled,onPremisesSyncEnabled,roles,lockedOut\n\
             adele@{DOMAIN},{ADELE_ID},Adele Vance,Adele,Vance,false,false,,yes\n\
             synced@{DOMAIN},,Sync User,,,false,true,,no\n\
             admin@{DOMAIN},,Admin,,,true,false,Global Administrator;User Administrator;Security Administrator,no\n\
             $dollar@{DOMAIN},,Dollar,,,true,false,,no\n\
             bob_fabrikam.com#EXT#@{DOMAIN},,Bob Guest,,,true,false,,no\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

fn assert_graph_error(a: &Answer, status: StatusCode, code: &str) {
    assert_eq!(a.status, status, "{}", a.body);
    assert_eq!(a.code(), code, "{}", a.body);
    let inner = &a.body["error"]["innerError"];
    assert_eq!(
        inner["request-id"].as_str(),
        a.header("request-id"),
        "{}",
        a.body
    );
    assert!(inner["client-request-id"].is_string(), "{}", a.body);
    assert!(inner["date"].is_string(), "{}", a.body);
    assert_eq!(a.header("content-type"), Some("application/json"));
}

mod auth;
mod batch;
mod faults;
mod privileges;
mod users;
