//! Sending the engine's Graph requests: one at a time, or packed into
//! `$batch` calls of up to 20 requests from many users.
//!
//! User tasks hand a request to [`Dispatcher::send`] and await its answer;
//! they do not know whether it travelled alone or in a batch. In batch mode
//! one packing task collects requests (briefly lingering to fill a batch),
//! and at most `concurrency` HTTP calls are in flight. Every request or
//! batch item draws one unit from the shared [`Limiter`]; every 429 (whole
//! call or single item) pauses all workers through it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::graph::batch::{BatchItem, MAX_BATCH};
use crate::graph::limiter::Limiter;
use crate::graph::{ErrorKind, GraphClient, GraphError, GraphRequest, GraphResponse};

/// How long the packer waits for more requests to fill a batch.
const LINGER: Duration = Duration::from_millis(3);

type Reply = oneshot::Sender<Result<GraphResponse, GraphError>>;

/// Counters for the summary and the benchmarks.
#[derive(Debug, Default)]
pub struct DispatchStats {
    pub calls: AtomicU64,
    pub items: AtomicU64,
    /// Requests or batch items that got an answer, whatever its status
    /// (an answer to a whole `$batch` counts for each item it carried).
    pub answered: AtomicU64,
    pub throttled: AtomicU64,
}

/// Sends requests for every user task.
pub struct Dispatcher {
    client: GraphClient,
    limiter: Arc<Limiter>,
    http_slots: Arc<Semaphore>,
    batch: Option<mpsc::Sender<(GraphRequest, Reply)>>,
    pub stats: Arc<DispatchStats>,
}

impl Dispatcher {
    /// `concurrency` bounds HTTP calls in flight; `batch` packs requests.
    pub fn new(
        client: GraphClient,
        limiter: Arc<Limiter>,
        concurrency: usize,
        batch: bool,
    ) -> Self {
        let http_slots = Arc::new(Semaphore::new(concurrency.max(1)));
        let stats = Arc::new(DispatchStats::default());
        let tx = batch.then(|| {
            let (tx, rx) = mpsc::channel(concurrency.max(1) * MAX_BATCH * 2);
            tokio::spawn(pack(
                rx,
                client.clone(),
                limiter.clone(),
                http_slots.clone(),
                stats.clone(),
            ));
            tx
        });
        Dispatcher {
            client,
            limiter,
            http_slots,
            batch: tx,
            stats,
        }
    }

    pub fn limiter(&self) -> &Arc<Limiter> {
        &self.limiter
    }

    pub fn client(&self) -> &GraphClient {
        &self.client
    }

    /// Sends one request and returns its answer.
    pub async fn send(&self, req: GraphRequest) -> Result<GraphResponse, GraphError> {
        let op = req.operation;
        if let Some(tx) = &self.batch {
            let (reply, answer) = oneshot::channel();
            if tx.send((req, reply)).await.is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
            return Err(stopped(op));
        }
        self.limiter.reserve(1).await;
        let _slot = self.http_slots.acquire().await.map_err(|_| stopped(op))?;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats.items.fetch_add(1, Ordering::Relaxed);
        let result = self.client.send(&req).await;
        feedback(&self.limiter, &self.stats, &result, 1);
        result
    }
}

fn stopped(op: crate::graph::permissions::Operation) -> GraphError {
    // The request may have been on its way when the dispatcher went away.
    GraphError::unreadable_success("the request dispatcher stopped".into(), None, Some(op))
}

/// Tells the limiter how a call carrying `units` went (one request or
/// batch item, or a whole batch that failed as one).
fn feedback(
    limiter: &Limiter,
    stats: &DispatchStats,
    result: &Result<GraphResponse, GraphError>,
    units: u32,
) {
    // An answer came back, whatever its status: each unit it carried.
    let answered = match result {
        Ok(_) => true,
        Err(e) => e.status.is_some(),
    };
    if answered {
        stats
            .answered
            .fetch_add(u64::from(units), Ordering::Relaxed);
    }
    match result {
        Err(e) if e.kind == ErrorKind::Throttled => {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
            limiter.on_throttled(e.retry_after);
            limiter.on_failed(units.saturating_sub(1));
        }
        Ok(r) => limiter.on_success(units, r.throttle_level),
        Err(_) => limiter.on_failed(units),
    }
}

/// The packing task: collects up to 20 requests, then sends them as one
/// `$batch` on its own task, with at most `concurrency` in flight.
async fn pack(
    mut rx: mpsc::Receiver<(GraphRequest, Reply)>,
    client: GraphClient,
    limiter: Arc<Limiter>,
    slots: Arc<Semaphore>,
    stats: Arc<DispatchStats>,
) {
    while let Some(first) = rx.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // The limiter sizes the call when it hands out the units; requests
        // that arrived meanwhile fill it at once.
        let size = limiter.reserve(MAX_BATCH as u32).await as usize;
        let mut jobs = vec![first];
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while jobs.len() < size {
            tokio::select! {
                biased;
                next = rx.recv() => match next {
                    Some(job) => jobs.push(job),
                    None => break,
                },
                () = &mut linger => break,
            }
        }
        if jobs.len() < size {
            limiter.refund(u32::try_from(size - jobs.len()).unwrap_or(0));
        }
        let client = client.clone();
        let limiter = limiter.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let (requests, replies): (Vec<GraphRequest>, Vec<Reply>) = jobs.into_iter().unzip();
            let units = u32::try_from(requests.len()).unwrap_or(u32::MAX);
            stats.calls.fetch_add(1, Ordering::Relaxed);
            stats
                .items
                .fetch_add(requests.len() as u64, Ordering::Relaxed);
            // A single request gains nothing from an envelope.
            if requests.len() == 1 {
                let result = client.send(&requests[0]).await;
                feedback(&limiter, &stats, &result, 1);
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(result);
                }
                return;
            }
            let items: Vec<BatchItem> = requests
                .into_iter()
                .enumerate()
                .map(|(i, request)| BatchItem {
                    id: (i + 1).to_string(),
                    request,
                    depends_on: None,
                })
                .collect();
            match client.batch(&items).await {
                Ok(results) => {
                    for (result, reply) in results.into_iter().zip(replies) {
                        feedback(&limiter, &stats, &result, 1);
                        let _ = reply.send(result);
                    }
                }
                Err(e) => {
                    feedback(&limiter, &stats, &Err(e.clone()), units);
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
