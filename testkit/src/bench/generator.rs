//! The benchmark's OTLP/gRPC load generator: `streams` concurrent senders, each on its own connection, each
//! with one request in flight (closed loop, as fast as acknowledged) or paced to a share of a target rate (open
//! loop). It counts what was acknowledged, so the sink's count can be checked against it: nothing lost.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use spanguard_config::OtlpExporterConfig;
use spanguard_exporter::{GrpcBody, GrpcClient};

use super::shape::Template;
use crate::TestkitError;

/// What the generator did, shared with the run that watches it.
#[derive(Default)]
pub struct Counts {
    /// Spans acknowledged (minus any the peer reported rejected).
    pub acked: AtomicU64,
    /// Requests refused (backpressure or errors); each is retried with new trace ids after an exponential
    /// backoff (5 ms doubling to 160 ms per stream, reset by a success), as the OTLP specification asks of
    /// clients: a client that resends at once only measures how fast spanguard can say no.
    pub refused: AtomicU64,
}

/// First and longest pause after a refusal.
const MIN_BACKOFF: Duration = Duration::from_millis(5);
const MAX_BACKOFF: Duration = Duration::from_millis(160);

/// A running generator.
pub struct Generator {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    /// Its counts.
    pub counts: Arc<Counts>,
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

impl Generator {
    /// Starts sending to `endpoint` (`http://host:port`). `rate` is spans/s over all streams, or `None` for max.
    /// `seq` numbers requests across runs, so no two requests ever share a trace id.
    pub fn start(
        endpoint: &str,
        template: Arc<Template>,
        streams: usize,
        rate: Option<f64>,
        seq: Arc<AtomicU64>,
    ) -> Result<Generator, TestkitError> {
        let config: OtlpExporterConfig = serde_yaml::from_str(&format!("endpoint: {endpoint:?}\ntimeout: 10s"))
            .map_err(TestkitError::SenderConfig)?;
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let period = rate.map(|r| Duration::from_secs_f64(template.spans as f64 * streams as f64 / r.max(1.0)));
        let mut tasks = Vec::new();
        for _ in 0..streams.max(1) {
            let client = GrpcClient::new("bench", &config)?;
            let (stop, counts, template, seq) = (stop.clone(), counts.clone(), template.clone(), seq.clone());
            tasks.push(tokio::spawn(async move {
                let mut tick = period.map(|p| {
                    let mut i = tokio::time::interval(p);
                    i.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    i
                });
                let mut backoff = MIN_BACKOFF;
                while !stop.load(Relaxed) {
                    if let Some(t) = tick.as_mut() {
                        t.tick().await;
                    }
                    let body = template.request(seq.fetch_add(1, Relaxed), now_ns());
                    match client.export(GrpcBody::Encoded(body)).await {
                        Ok(rejected) => {
                            let ok = (template.spans as i64 - rejected.max(0)).max(0) as u64;
                            counts.acked.fetch_add(ok, Relaxed);
                            backoff = MIN_BACKOFF;
                        }
                        Err(_) => {
                            counts.refused.fetch_add(1, Relaxed);
                            tokio::time::sleep(backoff).await;
                            backoff = (backoff * 2).min(MAX_BACKOFF);
                        }
                    }
                }
            }));
        }
        Ok(Generator { stop, tasks, counts })
    }

    /// Stops sending and waits for the requests in flight to be answered.
    pub async fn stop(self) -> Arc<Counts> {
        self.stop.store(true, Relaxed);
        for t in self.tasks {
            let _ = t.await;
        }
        self.counts
    }
}
