//! The exporters' `https://` transport: rustls (configured by `exporters.*.tls`, see `spanguard_config::ClientTls`)
//! over hyper's TCP connector. One connector for both exporters; gRPC asks for HTTP/2 only (ALPN `h2`), OTLP/HTTP
//! for either.

use std::time::Duration;

use hyper_rustls::{FixedServerNameResolver, HttpsConnector};
use hyper_util::client::legacy::connect::HttpConnector;
use spanguard_config::ClientTls;

use crate::ExporterError;

/// Which HTTP versions to offer in the handshake.
#[derive(Clone, Copy)]
pub(crate) enum Alpn {
    /// OTLP/gRPC: HTTP/2 only.
    H2,
    /// OTLP/HTTP: HTTP/2 or HTTP/1.1, the peer's choice.
    Any,
}

/// A TCP connector with spanguard's socket settings (no Nagle delay, bounded connect time).
pub(crate) fn tcp_connector() -> HttpConnector {
    let mut http = HttpConnector::new();
    http.set_nodelay(true);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    http
}

/// An `https://`-only connector for exporter `name` with its `tls` settings (none: the system's roots).
pub(crate) fn https_connector(
    name: &str,
    tls: Option<&ClientTls>,
    alpn: Alpn,
) -> Result<HttpsConnector<HttpConnector>, ExporterError> {
    let tls = tls.cloned().unwrap_or_default();
    let path = format!("exporters.{name}.tls");
    let config = tls.load(&path)?;
    let server_name = tls.server_name(&path)?;
    let mut tcp = tcp_connector();
    tcp.enforce_http(false);
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only();
    let builder = match server_name {
        Some(name) => builder.with_server_name_resolver(FixedServerNameResolver::new(name)),
        None => builder,
    };
    Ok(match alpn {
        Alpn::H2 => builder.enable_http2().wrap_connector(tcp),
        Alpn::Any => builder.enable_http1().enable_http2().wrap_connector(tcp),
    })
}
