use std::net::SocketAddr;

use std::sync::Arc;

use rustls::ServerConfig;
use spanguard_config::{OtlpReceiverConfig, ServerTls};
use spanguard_telemetry::{names, Counter, Registry};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use spanguard_otlp::SpanRecord;

use crate::{Admission, ReceiverError};

/// An `otlp` receiver as configured: not yet listening.
pub struct OtlpReceiver {
    name: String,
    config: OtlpReceiverConfig,
    admission: Admission,
    registry: Registry,
}

/// A receiver whose sockets are bound (so tests can ask for port 0 and learn the real port), ready to serve.
pub struct BoundReceiver {
    grpc: Option<Listening>,
    http: Option<Listening>,
    admission: Admission,
    max_request_bytes: usize,
}

/// A bound socket and, when configured, the TLS it terminates.
struct Listening {
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    handshake_failures: Counter,
}

impl OtlpReceiver {
    /// A receiver named `name` (its config key) feeding `tx`.
    pub fn new(name: &str, config: OtlpReceiverConfig, tx: mpsc::Sender<Vec<SpanRecord>>, registry: &Registry) -> Self {
        let token = config
            .auth
            .as_ref()
            .and_then(|a| crate::auth::BearerToken::new(&a.bearer_token));
        let limits = config.limits.clone();
        Self {
            name: name.to_owned(),
            config,
            admission: Admission::new(tx, registry).with_token(token).with_limits(limits),
            registry: registry.clone(),
        }
    }

    /// Holds what it admits within `budget` (the pipeline's memory limit, shared by every receiver).
    pub fn with_budget(mut self, budget: crate::memory::Budget) -> Self {
        self.admission = self.admission.with_budget(budget);
        self
    }

    /// Binds the configured endpoints and loads their TLS certificates.
    pub async fn bind(self) -> Result<BoundReceiver, ReceiverError> {
        let grpc = match &self.config.protocols.grpc {
            Some(g) => Some(self.listen("grpc", &g.endpoint, g.tls.as_ref(), &[b"h2"]).await?),
            None => None,
        };
        let http = match &self.config.protocols.http {
            Some(h) => Some(
                self.listen("http", &h.endpoint, h.tls.as_ref(), &[b"h2", b"http/1.1"])
                    .await?,
            ),
            None => None,
        };
        Ok(BoundReceiver {
            grpc,
            http,
            admission: self.admission,
            max_request_bytes: usize::try_from(self.config.max_request_bytes.0).unwrap_or(usize::MAX),
        })
    }

    async fn listen(
        &self,
        protocol: &str,
        endpoint: &str,
        tls: Option<&ServerTls>,
        alpn: &[&[u8]],
    ) -> Result<Listening, ReceiverError> {
        let key = format!("receivers.{}.protocols.{protocol}", self.name);
        let handshake_failures = self.registry.counter(
            &names::RECEIVER_REFUSED_CONNECTIONS,
            &[("protocol", protocol), ("reason", "tls_handshake")],
        );
        let tls = tls.map(|t| t.load(&format!("{key}.tls"), alpn)).transpose()?;
        let listener = TcpListener::bind(endpoint)
            .await
            .map_err(|source| ReceiverError::Bind {
                endpoint: endpoint.to_owned(),
                key: format!("{key}.endpoint"),
                source,
            })?;
        Ok(Listening {
            listener,
            tls,
            handshake_failures,
        })
    }
}

impl BoundReceiver {
    /// The gRPC listen address, if served.
    pub fn grpc_addr(&self) -> Option<SocketAddr> {
        self.grpc.as_ref().and_then(|l| l.listener.local_addr().ok())
    }

    /// The HTTP listen address, if served.
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.as_ref().and_then(|l| l.listener.local_addr().ok())
    }

    /// Serves until `shutdown` is cancelled, then stops accepting and finishes requests in flight.
    pub async fn serve(self, shutdown: CancellationToken) -> Result<(), ReceiverError> {
        let mut tasks = tokio::task::JoinSet::new();
        if let Some(Listening {
            listener,
            tls,
            handshake_failures,
        }) = self.grpc
        {
            tracing::info!(addr = %shown(&listener), tls = tls.is_some(), "OTLP/gRPC receiver listening");
            let svc = crate::grpc::TraceServiceServer::new(self.admission.clone(), self.max_request_bytes);
            let stop = shutdown.clone();
            let server = grpc_server().add_service(svc);
            tasks.spawn(async move {
                match tls {
                    None => server
                        .serve_with_incoming_shutdown(incoming(listener), stop.cancelled_owned())
                        .await
                        .map_err(ReceiverError::Grpc),
                    Some(config) => {
                        use tokio_stream::StreamExt;
                        let ready = crate::tls::accept(listener, config, handshake_failures, stop.clone());
                        let conns = tokio_stream::wrappers::ReceiverStream::new(ready)
                            .map(|(conn, _peer)| Ok::<_, std::io::Error>(conn));
                        server
                            .serve_with_incoming_shutdown(conns, stop.cancelled_owned())
                            .await
                            .map_err(ReceiverError::Grpc)
                    }
                }
            });
        }
        if let Some(Listening {
            listener,
            tls,
            handshake_failures,
        }) = self.http
        {
            tracing::info!(addr = %shown(&listener), tls = tls.is_some(), "OTLP/HTTP receiver listening");
            let app = crate::http::router(self.admission.clone(), self.max_request_bytes);
            let stop = shutdown.clone();
            tasks.spawn(async move {
                match tls {
                    None => axum::serve(listener, app)
                        .with_graceful_shutdown(stop.cancelled_owned())
                        .await
                        .map_err(ReceiverError::Http),
                    Some(config) => {
                        let local = listener.local_addr().map_err(ReceiverError::Http)?;
                        let ready = crate::tls::accept(listener, config, handshake_failures, stop.clone());
                        axum::serve(crate::tls::TlsListener { ready, local }, app)
                            .with_graceful_shutdown(stop.cancelled_owned())
                            .await
                            .map_err(ReceiverError::Http)
                    }
                }
            });
        }
        while let Some(res) = tasks.join_next().await {
            match res {
                Ok(Ok(())) => {}
                Ok(Err(e)) => return Err(e),
                Err(join) => return Err(ReceiverError::Http(std::io::Error::other(join))),
            }
        }
        Ok(())
    }
}

/// HTTP/2 flow-control windows of the gRPC server. h2's default 64 KiB stream window means a 256 KiB request of
/// 512 spans needs four window updates, a round trip each, and caps a connection at a few MB/s on loopback;
/// 4 MiB per stream (8 MiB per connection) lets a whole request be in flight at once.
pub const STREAM_WINDOW: u32 = 4 << 20;
/// The connection's window: two streams' worth.
pub const CONNECTION_WINDOW: u32 = 8 << 20;

/// A tonic server builder with spanguard's transport settings (flow-control windows).
pub fn grpc_server() -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
}

/// Accepted connections with `TCP_NODELAY` set: `serve_with_incoming` does not set it, and Nagle's algorithm
/// holding back small HTTP/2 frames (acks, window updates) adds tens of milliseconds per request.
pub fn incoming(
    listener: tokio::net::TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    use tokio_stream::StreamExt;
    tokio_stream::wrappers::TcpListenerStream::new(listener).map(|s| {
        if let Ok(s) = &s {
            let _ = s.set_nodelay(true);
        }
        s
    })
}

/// A listener's address for a log line.
fn shown(listener: &tokio::net::TcpListener) -> String {
    listener
        .local_addr()
        .map_or_else(|_| "unknown".to_owned(), |a| a.to_string())
}
