//! The running pipeline: receivers → processor → exporters over bounded channels, and its ordered shutdown
//! (receivers stop first, the processor drains, the exporters flush within the deadline).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use spanguard_config::Config;
use spanguard_exporter::Exporters;
use spanguard_processor::{Detectors, Processor, ProcessorHandle};
use spanguard_receiver::OtlpReceiver;
use spanguard_telemetry::{names, Registry};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::PipelineError;

/// A started pipeline.
pub struct Running {
    /// Where each receiver's gRPC endpoint listens (in config order).
    pub grpc_addrs: Vec<SocketAddr>,
    /// Where each receiver's HTTP endpoint listens.
    pub http_addrs: Vec<SocketAddr>,
    /// Where `/metrics` listens, if enabled.
    pub metrics_addr: Option<SocketAddr>,
    /// The metrics registry.
    pub registry: Registry,
    /// Scored-window reports.
    pub reports: ProcessorHandle,
    stop_receivers: CancellationToken,
    abort: CancellationToken,
    stop_admin: CancellationToken,
    draining: Arc<AtomicBool>,
    receivers: Vec<JoinHandle<()>>,
    processor: JoinHandle<()>,
    exporters: JoinHandle<()>,
    admin: Option<JoinHandle<()>>,
}

/// What a shutdown achieved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Everything drained before the deadline.
    pub clean: bool,
    /// Spans the exporters dropped over the whole run, all reasons.
    pub dropped_spans: u64,
}

/// Starts the pipeline described by `config` with `detectors` (a chain, or a chain with the graph feed's
/// channel), counting into `registry`.
pub async fn start(
    config: &Config,
    detectors: impl Into<Detectors>,
    registry: Registry,
) -> Result<Running, PipelineError> {
    let anomaly = &config.processor.config;
    let (in_tx, in_rx) = mpsc::channel(anomaly.queue_size);
    // The processor hands whole windows to the exporters; a few in flight is enough to keep them busy.
    let (out_tx, out_rx) = mpsc::channel(8);

    let exporters = Exporters::build(&config.exporters, &registry)?;
    let processor = Processor::new(anomaly, detectors, &registry);
    let reports = processor.subscribe();

    let stop_receivers = CancellationToken::new();
    // One memory budget for every receiver: what the whole pipeline holds is bounded.
    let budget = spanguard_receiver::memory::Budget::new(config.processor.config.memory_limit.0, &registry);
    let mut grpc_addrs = Vec::new();
    let mut http_addrs = Vec::new();
    let mut receivers = Vec::new();
    for r in &config.receivers {
        let bound = OtlpReceiver::new(&r.name, r.config.clone(), in_tx.clone(), &registry)
            .with_budget(budget.clone())
            .bind()
            .await?;
        grpc_addrs.extend(bound.grpc_addr());
        http_addrs.extend(bound.http_addr());
        let stop = stop_receivers.clone();
        receivers.push(tokio::spawn(async move {
            if let Err(e) = bound.serve(stop).await {
                tracing::error!(error = %e, "receiver stopped");
            }
        }));
    }
    // Only the receivers hold senders: when they stop, the processor sees its input close and drains.
    drop(in_tx);

    let abort = CancellationToken::new();
    let exporters = tokio::spawn(exporters.run(out_rx, abort.clone()));
    let processor = tokio::spawn(processor.run(in_rx, out_tx));

    let draining = Arc::new(AtomicBool::new(false));
    let stop_admin = CancellationToken::new();
    let (metrics_addr, admin) = match config.service.telemetry.metrics.address.as_str() {
        "" => (None, None),
        addr => {
            let (a, h) = crate::admin::serve(addr, registry.clone(), draining.clone(), stop_admin.clone()).await?;
            (Some(a), Some(h))
        }
    };

    Ok(Running {
        grpc_addrs,
        http_addrs,
        metrics_addr,
        registry,
        reports,
        stop_receivers,
        abort,
        stop_admin,
        draining,
        receivers,
        processor,
        exporters,
        admin,
    })
}

impl Running {
    /// Stops accepting, completes every trace and window, and flushes the exporters; after `timeout` the
    /// exporters give up on what is left (counted as dropped, reason `shutdown`).
    pub async fn shutdown(self, timeout: Duration) -> ShutdownReport {
        self.draining.store(true, Ordering::Relaxed);
        self.stop_receivers.cancel();
        let drain = async {
            for r in self.receivers {
                let _ = r.await;
            }
            let _ = self.processor.await;
            let _ = self.exporters.await;
        };
        tokio::pin!(drain);
        let clean = tokio::select! {
            _ = &mut drain => true,
            _ = tokio::time::sleep(timeout) => {
                tracing::error!(
                    timeout = %humantime::format_duration(timeout),
                    "shutdown_timeout reached: giving up on undelivered batches"
                );
                self.abort.cancel();
                // Give the exporters a moment to count what they drop.
                let _ = tokio::time::timeout(Duration::from_secs(2), &mut drain).await;
                false
            }
        };
        self.stop_admin.cancel();
        if let Some(a) = self.admin {
            let _ = a.await;
        }
        let dropped_spans = self.registry.counter_total(&names::EXPORTER_DROPPED_SPANS);
        ShutdownReport { clean, dropped_spans }
    }
}
