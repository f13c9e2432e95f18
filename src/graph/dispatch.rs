//! Sending the engine's Graph requests: one at a time, or packed into
//! `$batch` calls of up to 20 requests from many users.
//!
//! User tasks hand a request to [`Dispatcher::send`] and await its answer;
//! they do not know whether it travelled alone or in a batch. In batch mode
//! one packing task per [`Class`] collects requests (briefly lingering to
//! fill a batch): reads and writes travel in separate batches, so a
//! throttled write quota holds back only the writes. At most `concurrency`
//! HTTP calls are in flight in all. Every request or batch item draws its
//! [`cost`] from the shared [`Limiter`] (writes also one write); every 429
//! (whole call or single item) pauses the budget its scope names.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::graph::batch::{BatchItem, MAX_BATCH};
use crate::graph::limiter::{Class, Limiter, cost};
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
    /// Write requests (and items) sent.
    pub writes: AtomicU64,
}

/// Sends requests for every user task.
pub struct Dispatcher {
    client: GraphClient,
    limiter: Arc<Limiter>,
    http_slots: Arc<Semaphore>,
    /// The read and the write packers' queues, in batch mode.
    batch: Option<[mpsc::Sender<(GraphRequest, Reply)>; 2]>,
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
            [Class::Read, Class::Write].map(|class| {
                let (tx, rx) = mpsc::channel(concurrency.max(1) * MAX_BATCH * 2);
                tokio::spawn(pack(
                    class,
                    rx,
                    client.clone(),
                    limiter.clone(),
                    http_slots.clone(),
                    stats.clone(),
                ));
                tx
            })
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
        let class = Class::of(&req);
        if let Some(queues) = &self.batch {
            let (reply, answer) = oneshot::channel();
            let queue = &queues[usize::from(class == Class::Write)];
            if queue.send((req, reply)).await.is_ok()
                && let Ok(result) = answer.await
            {
                return result;
            }
            return Err(stopped(op));
        }
        let units = cost(&req);
        match class {
            Class::Read => {
                let got = self.limiter.reserve(class, units).await;
                if got < units {
                    self.limiter.take_units(units - got).await;
                }
            }
            Class::Write => {
                self.limiter.reserve(class, 1).await;
                self.stats.writes.fetch_add(1, Ordering::Relaxed);
            }
        }
        let _slot = self.http_slots.acquire().await.map_err(|_| stopped(op))?;
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        self.stats.items.fetch_add(1, Ordering::Relaxed);
        let result = self.client.send(&req).await;
        feedback(&self.limiter, &self.stats, class, &result, units, 1);
        result
    }
}

fn stopped(op: crate::graph::permissions::Operation) -> GraphError {
    // The request may have been on its way when the dispatcher went away.
    GraphError::unreadable_success("the request dispatcher stopped".into(), None, Some(op))
}

/// Tells the limiter how a call of `class` carrying `items` requests that
/// cost `units` went (one request or batch item, or a whole batch that
/// failed as one).
fn feedback(
    limiter: &Limiter,
    stats: &DispatchStats,
    class: Class,
    result: &Result<GraphResponse, GraphError>,
    units: u32,
    items: u32,
) {
    // An answer came back, whatever its status: each request it carried.
    let answered = match result {
        Ok(_) => true,
        Err(e) => e.status.is_some(),
    };
    if answered {
        stats
            .answered
            .fetch_add(u64::from(items), Ordering::Relaxed);
    }
    match result {
        Err(e) if e.kind == ErrorKind::Throttled => {
            stats.throttled.fetch_add(1, Ordering::Relaxed);
            limiter.on_throttled(class, e.throttle_scope, e.retry_after);
            if items > 1 {
                limiter.on_failed(class, units.saturating_sub(1), items - 1);
            }
        }
        Ok(r) => limiter.on_success(class, units, r.resource_units, r.throttle_level),
        Err(_) => limiter.on_failed(class, units, items),
    }
}

/// A packing task: collects up to 20 requests of one class, then sends
/// them as one `$batch` on its own task, sharing the `concurrency` slots.
/// A read call is sized in units (the limiter hands out what the rate
/// allows; requests fill it by their cost), a write call in writes.
async fn pack(
    class: Class,
    mut rx: mpsc::Receiver<(GraphRequest, Reply)>,
    client: GraphClient,
    limiter: Arc<Limiter>,
    slots: Arc<Semaphore>,
    stats: Arc<DispatchStats>,
) {
    // The most a call may carry: 20 items at their dearest.
    let most = match class {
        Class::Read => u32::try_from(MAX_BATCH).unwrap_or(20) * 2,
        Class::Write => u32::try_from(MAX_BATCH).unwrap_or(20),
    };
    let weight = |req: &GraphRequest| match class {
        Class::Read => cost(req),
        Class::Write => 1,
    };
    // A request that did not fit the last call opens the next one.
    let mut carried = None;
    loop {
        let first = match carried.take() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => return,
            },
        };
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        // The limiter sizes the call when it hands out the units; requests
        // that arrived meanwhile fill it at once.
        let size = limiter.reserve(class, most).await;
        let mut used = weight(&first.0);
        let mut jobs = vec![first];
        let linger = tokio::time::sleep(LINGER);
        tokio::pin!(linger);
        while jobs.len() < MAX_BATCH && used < size {
            tokio::select! {
                biased;
                next = rx.recv() => match next {
                    Some(job) => {
                        let w = weight(&job.0);
                        if used + w > size {
                            carried = Some(job);
                            break;
                        }
                        used += w;
                        jobs.push(job);
                    }
                    None => break,
                },
                () = &mut linger => break,
            }
        }
        if used < size {
            limiter.refund(class, size - used);
        } else if used > size {
            // The first request alone cost more than the rate allowed.
            limiter.take_units(used - size).await;
        }
        let units: Vec<u32> = jobs.iter().map(|(r, _)| cost(r)).collect();
        if class == Class::Write {
            stats.writes.fetch_add(jobs.len() as u64, Ordering::Relaxed);
        }
        let client = client.clone();
        let limiter = limiter.clone();
        let stats = stats.clone();
        tokio::spawn(async move {
            let _slot = slot;
            let (requests, replies): (Vec<GraphRequest>, Vec<Reply>) = jobs.into_iter().unzip();
            stats.calls.fetch_add(1, Ordering::Relaxed);
            stats
                .items
                .fetch_add(requests.len() as u64, Ordering::Relaxed);
            // A single request gains nothing from an envelope.
            if requests.len() == 1 {
                let result = client.send(&requests[0]).await;
                feedback(&limiter, &stats, class, &result, units[0], 1);
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
                    for ((result, reply), u) in results.into_iter().zip(replies).zip(&units) {
                        feedback(&limiter, &stats, class, &result, *u, 1);
                        let _ = reply.send(result);
                    }
                }
                Err(e) => {
                    let total = units.iter().sum();
                    let n = u32::try_from(units.len()).unwrap_or(u32::MAX);
                    feedback(&limiter, &stats, class, &Err(e.clone()), total, n);
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        });
    }
}
