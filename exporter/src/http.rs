//! OTLP/HTTP client (protobuf or JSON body, optional gzip), on hyper.

use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceResponse;
use prost::Message;
use spanguard_config::{HttpEncoding, OtlpHttpExporterConfig};

use crate::{ExportError, ExporterError};

/// Plaintext or TLS: the two hyper clients differ in type but answer with the same future.
#[derive(Clone)]
enum Transport {
    Plain(Client<HttpConnector, Full<Bytes>>),
    Tls(Client<HttpsConnector<HttpConnector>, Full<Bytes>>),
}

impl Transport {
    fn request(&self, req: http::Request<Full<Bytes>>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Transport::Plain(c) => c.request(req),
            Transport::Tls(c) => c.request(req),
        }
    }
}

#[derive(Clone)]
pub(crate) struct HttpClient {
    client: Transport,
    url: http::Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    encoding: HttpEncoding,
    gzip: bool,
    timeout: Duration,
}

impl HttpClient {
    pub(crate) fn new(name: &str, c: &OtlpHttpExporterConfig) -> Result<Self, ExporterError> {
        let bad = |message: String| ExporterError::Endpoint {
            name: name.to_owned(),
            message,
        };
        let url_text = c.url();
        let url: http::Uri = url_text
            .parse()
            .map_err(|e| bad(format!("{url_text:?} is not a valid URL: {e}")))?;
        let mut headers = Vec::new();
        for (k, v) in &c.headers {
            let key = HeaderName::from_bytes(k.as_bytes()).map_err(|_| bad(format!("header name {k:?} is invalid")))?;
            let value = HeaderValue::from_str(v).map_err(|_| bad(format!("header {k:?} has an invalid value")))?;
            headers.push((key, value));
        }
        let client = if url_text.starts_with("https://") {
            let https = crate::tls::https_connector(name, c.tls.as_ref(), crate::tls::Alpn::Any)?;
            Transport::Tls(Client::builder(TokioExecutor::new()).build(https))
        } else {
            Transport::Plain(Client::builder(TokioExecutor::new()).build(crate::tls::tcp_connector()))
        };
        Ok(Self {
            client,
            url,
            headers,
            encoding: c.encoding,
            gzip: c.compression == spanguard_config::Compression::Gzip,
            timeout: c.timeout,
        })
    }

    pub(crate) fn encoding(&self) -> HttpEncoding {
        self.encoding
    }

    pub(crate) fn gzip(&self) -> bool {
        self.gzip
    }

    /// Posts one encoded body; returns the spans the peer rejected.
    pub(crate) async fn export(&self, body: Bytes) -> Result<i64, ExportError> {
        let content_type = match self.encoding {
            HttpEncoding::Proto => "application/x-protobuf",
            HttpEncoding::Json => "application/json",
        };
        let mut req = http::Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(header::CONTENT_TYPE, content_type);
        if self.gzip {
            req = req.header(header::CONTENT_ENCODING, "gzip");
        }
        for (k, v) in &self.headers {
            req = req.header(k, v);
        }
        let req = req
            .body(Full::new(body))
            .map_err(|e| ExportError::permanent(format!("cannot build request: {e}")))?;
        let resp = tokio::time::timeout(self.timeout, self.client.request(req))
            .await
            .map_err(|_| ExportError::retryable("timed out", None))?
            .map_err(|e| ExportError::retryable(format!("cannot reach peer: {e}"), None))?;
        let status = resp.status();
        let retry_after = resp
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let body = tokio::time::timeout(self.timeout, resp.into_body().collect())
            .await
            .map_err(|_| ExportError::retryable("timed out reading response", None))?
            .map_err(|e| ExportError::retryable(format!("cannot read response: {e}"), None))?
            .to_bytes();
        if status.is_success() {
            let parsed = match self.encoding {
                HttpEncoding::Proto => ExportTraceServiceResponse::decode(body).ok(),
                HttpEncoding::Json => serde_json::from_slice::<ExportTraceServiceResponse>(&body).ok(),
            };
            return Ok(parsed
                .and_then(|r| r.partial_success)
                .map(|p| p.rejected_spans)
                .unwrap_or(0));
        }
        let message = format!("peer answered HTTP {status}");
        match status {
            StatusCode::TOO_MANY_REQUESTS
            | StatusCode::BAD_GATEWAY
            | StatusCode::SERVICE_UNAVAILABLE
            | StatusCode::GATEWAY_TIMEOUT => Err(ExportError::retryable(message, retry_after)),
            _ => Err(ExportError::permanent(message)),
        }
    }
}
