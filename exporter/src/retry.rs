//! Delivery of one batch: retry retryable failures with exponential backoff (jittered, honouring the peer's
//! Retry-After) until `max_elapsed_time`, and count whatever is given up.

use std::time::{Duration, Instant};

use spanguard_config::RetryConfig;
use tokio_util::sync::CancellationToken;

use crate::metrics::ExporterMetrics;
use crate::{Client, Payload};

/// Delivers `payload` (`spans` spans) or counts it as dropped. `abort` fires at the shutdown deadline.
pub(crate) async fn deliver(
    exporter: &str,
    client: &Client,
    payload: Payload,
    spans: usize,
    retry: &RetryConfig,
    metrics: &ExporterMetrics,
    abort: &CancellationToken,
) {
    let started = Instant::now();
    let mut backoff = retry.initial_interval;
    let mut attempt = 0u32;
    loop {
        attempt += 1;
        let result = tokio::select! {
            r = client.export(&payload) => r,
            _ = abort.cancelled() => {
                metrics.dropped_shutdown.add(spans as u64);
                tracing::error!(exporter, spans, "shutdown deadline reached: batch dropped");
                return;
            }
        };
        let err = match result {
            Ok(rejected) => {
                let rejected = usize::try_from(rejected.max(0)).unwrap_or(0).min(spans);
                metrics.sent.add((spans - rejected) as u64);
                if rejected > 0 {
                    metrics.dropped_rejected.add(rejected as u64);
                    tracing::warn!(exporter, rejected, "peer rejected spans (partial success)");
                }
                if attempt > 1 {
                    tracing::info!(exporter, spans, attempt, "batch delivered after retrying");
                }
                return;
            }
            Err(e) => e,
        };
        if !err.retryable || !retry.enabled {
            let counter = if err.retryable {
                &metrics.dropped_retries_exhausted
            } else {
                &metrics.dropped_permanent
            };
            counter.add(spans as u64);
            tracing::error!(exporter, spans, error = %err, "batch dropped: not retryable (or retries disabled)");
            return;
        }
        let wait = err.retry_after.unwrap_or_else(|| jitter(backoff));
        if started.elapsed() + wait > retry.max_elapsed_time {
            metrics.dropped_retries_exhausted.add(spans as u64);
            tracing::error!(exporter, spans, error = %err, "batch dropped: retry_on_failure.max_elapsed_time reached");
            return;
        }
        metrics.retries.inc();
        if attempt == 1 {
            tracing::warn!(exporter, spans, error = %err, "export failed; retrying with backoff");
        } else {
            tracing::debug!(exporter, spans, attempt, error = %err, wait_ms = wait.as_millis() as u64, "retrying");
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = abort.cancelled() => {
                metrics.dropped_shutdown.add(spans as u64);
                tracing::error!(exporter, spans, "shutdown deadline reached while retrying: batch dropped");
                return;
            }
        }
        backoff = (backoff * 2).min(retry.max_interval);
    }
}

/// ±20 % so that replicas that failed together do not retry in lockstep.
fn jitter(d: Duration) -> Duration {
    let f: f64 = 0.8 + 0.4 * rand::random::<f64>();
    d.mul_f64(f)
}
