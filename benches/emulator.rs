//! Emulator throughput, to show it is never what limits remedy's own
//! benchmarks: single GETs and 20-item `$batch`es from 50 keep-alive
//! connections against an in-process emulator (10,000 generated users,
//! no latency). Run with `cargo bench --bench emulator`; client and server
//! share the machine's cores, so the figures are a floor.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use remedy::emulator::{self, EmulatorConfig, UserSource};
use serde_json::{Value, json};

const USERS: u32 = 10_000;
const CONNECTIONS: usize = 50;
const BATCH: usize = 20;

fn main() {
    let seconds = std::env::var("REMEDY_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(bench(Duration::from_secs(seconds)));
}

/// Requests answered 200 and anything else, per workload.
struct Tally {
    ok: u64,
    errors: u64,
    elapsed: Duration,
}

impl Tally {
    fn per_second(&self, n: u64) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "request counts")]
        let n = n as f64;
        n / self.elapsed.as_secs_f64()
    }
}

async fn bench(duration: Duration) {
    let config = EmulatorConfig {
        users: UserSource::Generate(USERS),
        ..EmulatorConfig::default()
    };
    let emu = emulator::start(config).await.expect("the emulator starts");
    let url = emu.url();
    let token = token(&url, emu.tenant_id()).await;

    let (u, t) = (url.clone(), token.clone());
    let reads = load(duration, move |http, n| {
        let request = http
            .get(format!(
                "{u}/v1.0/users/{}?$select=id,accountEnabled",
                upn(n)
            ))
            .bearer_auth(&t);
        async move { request.send().await.is_ok_and(|r| r.status() == 200) }
    })
    .await;

    let (u, t) = (url.clone(), token.clone());
    let batches = load(duration, move |http, n| {
        let requests: Vec<Value> = (0..BATCH)
            .map(|i| {
                json!({"id": i.to_string(), "method": "GET",
                       "url": format!("/users/{}?$select=id,accountEnabled", upn(n * BATCH as u64 + i as u64))})
            })
            .collect();
        let request = http
            .post(format!("{u}/v1.0/$batch"))
            .bearer_auth(&t)
            .json(&json!({ "requests": requests }));
        async move {
            match request.send().await {
                Ok(r) if r.status() == 200 => r.json::<Value>().await.is_ok_and(|body| {
                    body["responses"]
                        .as_array()
                        .is_some_and(|items| items.len() == BATCH && items.iter().all(|i| i["status"] == 200))
                }),
                _ => false,
            }
        }
    })
    .await;

    let stats = emu.stats();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    println!();
    println!(
        "emulator throughput: {cores} cores, {USERS} users, {CONNECTIONS} connections, {} s per workload, 0 ms latency",
        duration.as_secs()
    );
    println!(
        "(client and emulator share the cores; max in flight: {})",
        stats.max_in_flight
    );
    println!();
    println!("| workload | requests/s | sub-requests/s | errors |");
    println!("|---|---:|---:|---:|");
    println!(
        "| GET /users/{{upn}}?$select=id,accountEnabled | {:.0} | {:.0} | {} |",
        reads.per_second(reads.ok),
        reads.per_second(reads.ok),
        reads.errors
    );
    println!(
        "| $batch of {BATCH} GETs | {:.0} | {:.0} | {} |",
        batches.per_second(batches.ok),
        batches.per_second(batches.ok * BATCH as u64),
        batches.errors
    );
    emu.shutdown().await;
}

fn upn(n: u64) -> String {
    format!(
        "user{:07}@contoso.onmicrosoft.com",
        n % u64::from(USERS) + 1
    )
}

async fn token(url: &str, tenant: &str) -> String {
    let body: Value = reqwest::Client::new()
        .post(format!("{url}/{tenant}/oauth2/v2.0/token"))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "bench"),
            ("client_secret", "bench"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .expect("the token request is answered")
        .json()
        .await
        .expect("a JSON token answer");
    body["access_token"]
        .as_str()
        .expect("an access token")
        .to_owned()
}

/// Run `request` from [`CONNECTIONS`] workers (one keep-alive connection
/// each) for `duration`.
async fn load<F, Fut>(duration: Duration, request: F) -> Tally
where
    F: Fn(&reqwest::Client, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send,
{
    let request = Arc::new(request);
    let ok = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let deadline = started + duration;
    let workers: Vec<_> = (0..CONNECTIONS as u64)
        .map(|w| {
            let (request, ok, errors) =
                (Arc::clone(&request), Arc::clone(&ok), Arc::clone(&errors));
            tokio::spawn(async move {
                let http = reqwest::Client::builder()
                    .pool_max_idle_per_host(1)
                    .timeout(Duration::from_secs(10))
                    .build()
                    .expect("an HTTP client");
                let mut n = w * 7_919;
                while Instant::now() < deadline {
                    let counter = if request(&http, n).await {
                        &ok
                    } else {
                        &errors
                    };
                    counter.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    Tally {
        ok: ok.load(Ordering::Relaxed),
        errors: errors.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    }
}
