use std::sync::Arc;

use spanguard_config::{BatchConfig, ExporterConfig, Named, QueueConfig, RetryConfig};
use spanguard_telemetry::Registry;
use tokio::sync::{mpsc, Mutex};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::batch::{run_batcher, Batch};
use crate::metrics::ExporterMetrics;
use crate::retry::deliver;
use spanguard_otlp::SpanRecord;

use crate::{Client, ExporterError};

struct Member {
    name: String,
    client: Client,
    batch: BatchConfig,
    queue: QueueConfig,
    retry: RetryConfig,
    metrics: ExporterMetrics,
}

/// The pipeline's exporters. Each gets every span (fan-out); the slowest sets the pace, by backpressure.
pub struct Exporters {
    members: Vec<Member>,
}

impl Exporters {
    /// Builds every configured exporter (connections are made lazily, so a peer that is down at start-up is
    /// not an error: its batches wait and retry).
    pub fn build(configs: &[Named<ExporterConfig>], registry: &Registry) -> Result<Self, ExporterError> {
        let members = configs
            .iter()
            .map(|n| {
                let (batch, queue, retry) = n.config.delivery();
                Ok(Member {
                    name: n.name.clone(),
                    client: Client::build(&n.name, &n.config)?,
                    batch: batch.clone(),
                    queue: queue.clone(),
                    retry: retry.clone(),
                    metrics: ExporterMetrics::new(registry, &n.name, queue.queue_size),
                })
            })
            .collect::<Result<Vec<_>, ExporterError>>()?;
        Ok(Self { members })
    }

    /// Runs until `input` is closed and every queue is drained; `abort` (the shutdown deadline) makes
    /// in-flight retries give up and count their spans as dropped.
    pub async fn run(self, mut input: mpsc::Receiver<Vec<SpanRecord>>, abort: CancellationToken) {
        let mut tasks = JoinSet::new();
        if self.members.len() == 1 {
            if let Some(m) = self.members.into_iter().next() {
                spawn_member(&mut tasks, m, input, abort);
            }
        } else {
            let mut inputs = Vec::new();
            for m in self.members {
                let (tx, rx) = mpsc::channel(4);
                inputs.push(tx);
                spawn_member(&mut tasks, m, rx, abort.clone());
            }
            tasks.spawn(async move {
                while let Some(req) = input.recv().await {
                    let (last, rest) = match inputs.split_last() {
                        Some(x) => x,
                        None => return,
                    };
                    for tx in rest {
                        let _ = tx.send(req.clone()).await;
                    }
                    let _ = last.send(req).await;
                }
            });
        }
        while tasks.join_next().await.is_some() {}
    }
}

fn spawn_member(tasks: &mut JoinSet<()>, m: Member, input: mpsc::Receiver<Vec<SpanRecord>>, abort: CancellationToken) {
    let (queue_tx, queue_rx) = mpsc::channel::<Batch>(m.queue.queue_size);
    let gauge = m.metrics.queue_length.clone();
    let size = m.batch.send_batch_size;
    let timeout = m.batch.timeout;
    tasks.spawn(async move {
        run_batcher(input, queue_tx, size, timeout, |q| {
            gauge.set((q.max_capacity() - q.capacity()) as i64)
        })
        .await;
    });
    let queue_rx = Arc::new(Mutex::new(queue_rx));
    let name: Arc<str> = Arc::from(m.name.as_str());
    for _ in 0..m.queue.num_consumers {
        let queue_rx = Arc::clone(&queue_rx);
        let client = m.client.clone();
        let retry = m.retry.clone();
        let metrics = m.metrics.clone();
        let abort = abort.clone();
        let name = Arc::clone(&name);
        tasks.spawn(async move {
            loop {
                let batch = {
                    let mut rx = queue_rx.lock().await;
                    let b = rx.recv().await;
                    metrics.queue_length.set(rx.len() as i64);
                    b
                };
                let Some(batch) = batch else { break };
                match client.prepare(batch.records) {
                    Ok(payload) => deliver(&name, &client, payload, batch.spans, &retry, &metrics, &abort).await,
                    Err(e) => {
                        metrics.dropped_permanent.add(batch.spans as u64);
                        tracing::error!(exporter = %name, spans = batch.spans, error = %e, "batch dropped");
                    }
                }
            }
        });
    }
}
