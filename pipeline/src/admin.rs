//! spanguard's own endpoints: `/metrics` (Prometheus text) and `/healthz`. Neither reveals span contents.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use spanguard_telemetry::Registry;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::PipelineError;

#[derive(Clone)]
struct AdminState {
    registry: Registry,
    draining: Arc<AtomicBool>,
}

/// Binds `address` and serves until `stop`; returns the bound address.
pub async fn serve(
    address: &str,
    registry: Registry,
    draining: Arc<AtomicBool>,
    stop: CancellationToken,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), PipelineError> {
    let unbound = |source| PipelineError::Metrics {
        address: address.to_owned(),
        source,
    };
    let listener = TcpListener::bind(address).await.map_err(unbound)?;
    let addr = listener.local_addr().map_err(unbound)?;
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(AdminState { registry, draining });
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app)
            .with_graceful_shutdown(stop.cancelled_owned())
            .await
        {
            tracing::error!(error = %e, "metrics endpoint failed");
        }
    });
    Ok((addr, handle))
}

async fn metrics(State(s): State<AdminState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        s.registry.render(),
    )
}

async fn healthz(State(s): State<AdminState>) -> impl IntoResponse {
    if s.draining.load(Ordering::Relaxed) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ok\n")
    }
}
