//! A real OTLP/gRPC sink: the next hop, for tests, the demo and the benchmark (no collector or Jaeger binary can
//! be installed on these machines). It can be told to refuse with UNAVAILABLE, to play a downstream outage.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::codec::CompressionEncoding;

#[derive(Default)]
struct Shared {
    requests: Mutex<Vec<ExportTraceServiceRequest>>,
    keep: AtomicBool,
    spans: AtomicU64,
    refused: AtomicU64,
    down: AtomicBool,
    /// When set, every span's age on arrival (now − its start time): the benchmark's end-to-end latency.
    latency: OnceLock<Arc<crate::bench::latency::Latency>>,
}

#[derive(Clone)]
struct Svc(Arc<Shared>);

#[tonic::async_trait]
impl TraceService for Svc {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        if self.0.down.load(Ordering::Relaxed) {
            self.0.refused.fetch_add(1, Ordering::Relaxed);
            return Err(tonic::Status::unavailable("sink is down"));
        }
        let req = request.into_inner();
        let n: usize = req
            .resource_spans
            .iter()
            .flat_map(|r| &r.scope_spans)
            .map(|s| s.spans.len())
            .sum();
        if let Some(latency) = self.0.latency.get() {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            for s in req
                .resource_spans
                .iter()
                .flat_map(|r| &r.scope_spans)
                .flat_map(|s| &s.spans)
            {
                latency.record(now.saturating_sub(s.start_time_unix_nano), 1);
            }
        }
        self.0.spans.fetch_add(n as u64, Ordering::Relaxed);
        if self.0.keep.load(Ordering::Relaxed) {
            self.0.requests.lock().unwrap_or_else(|p| p.into_inner()).push(req);
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

/// A running sink.
pub struct Sink {
    /// Where it listens.
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    stop: CancellationToken,
}

impl Sink {
    /// Starts a sink on `addr` (use port 0 for any). `keep` stores every request for inspection; without it
    /// only counts are kept (benchmarks).
    pub async fn start(addr: &str, keep: bool) -> std::io::Result<Sink> {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        shared.keep.store(keep, Ordering::Relaxed);
        let stop = CancellationToken::new();
        let svc = TraceServiceServer::new(Svc(shared.clone()))
            .accept_compressed(CompressionEncoding::Gzip)
            .max_decoding_message_size(64 << 20);
        let s = stop.clone();
        tokio::spawn(async move {
            let _ = spanguard_receiver::grpc_server()
                .add_service(svc)
                .serve_with_incoming_shutdown(spanguard_receiver::incoming(listener), s.cancelled_owned())
                .await;
        });
        Ok(Sink { addr, shared, stop })
    }

    /// `http://addr`, for exporter configs.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Spans received so far.
    pub fn span_count(&self) -> u64 {
        self.shared.spans.load(Ordering::Relaxed)
    }

    /// Starts recording every span's age on arrival into a histogram, and returns it.
    pub fn track_latency(&self) -> Arc<crate::bench::latency::Latency> {
        self.shared.latency.get_or_init(Default::default).clone()
    }

    /// Requests refused while down.
    pub fn refused(&self) -> u64 {
        self.shared.refused.load(Ordering::Relaxed)
    }

    /// Makes the sink answer UNAVAILABLE (true) or accept again (false).
    pub fn set_down(&self, down: bool) {
        self.shared.down.store(down, Ordering::Relaxed);
    }

    /// Every request received so far (with `keep`).
    pub fn requests(&self) -> Vec<ExportTraceServiceRequest> {
        self.shared.requests.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Waits until at least `n` spans arrived or `timeout` passed; returns the count.
    pub async fn wait_for(&self, n: u64, timeout: std::time::Duration) -> u64 {
        let deadline = tokio::time::Instant::now() + timeout;
        while self.span_count() < n && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        self.span_count()
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}
