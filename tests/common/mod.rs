//! Helpers shared by the integration tests: configs with port 0, a real OpenTelemetry SDK client, raw OTLP
//! calls for the malformed-input cases, and span inspection.
#![allow(dead_code)]

use std::time::Duration;

use bytes::{Buf, BufMut, Bytes};
use opentelemetry::trace::{Tracer, TracerProvider as _};
use opentelemetry::KeyValue as OtelKv;
use opentelemetry_otlp::{Protocol, WithExportConfig};
use opentelemetry_proto::tonic::collector::trace::v1::{
    trace_service_client::TraceServiceClient, ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{any_value::Value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span};
use opentelemetry_sdk::trace::SdkTracerProvider;
use prost::Message;
use spanguard_config::Config;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::Status;

/// A pipeline config on port 0 everywhere, exporting to `sink_url` with fast retries.
pub fn config(sink_url: &str) -> Config {
    parse(&config_text(sink_url))
}

/// Parses a test config.
pub fn parse(text: &str) -> Config {
    Config::from_yaml(text, |_| None).expect("test config is valid")
}

/// The text of [`config`], for tests that tweak a key with `replace`.
pub fn config_text(sink_url: &str) -> String {
    format!(
        r#"
receivers:
  otlp:
    protocols:
      grpc: {{ endpoint: "127.0.0.1:0" }}
      http: {{ endpoint: "127.0.0.1:0" }}
processors:
  anomaly:
    trace_wait: 200ms
    window: {{ traces: 5, timeout: 1s }}
exporters:
  otlp:
    endpoint: "{sink_url}"
    batch: {{ send_batch_size: 64, timeout: 50ms }}
    retry_on_failure: {{ initial_interval: 50ms, max_interval: 200ms, max_elapsed_time: 60s }}
service:
  pipelines:
    traces: {{ receivers: [otlp], processors: [anomaly], exporters: [otlp] }}
  telemetry:
    metrics: {{ address: "127.0.0.1:0" }}
"#
    )
}

/// [`config_text`] with the frequency detector on `model`, windows of 50 traces and a short trace wait: the
/// streaming tests' pipeline.
pub fn frequency_config_text(sink_url: &str, model: &std::path::Path) -> String {
    config_text(sink_url)
        .replace("trace_wait: 200ms", "trace_wait: 100ms")
        .replace(
            "window: { traces: 5, timeout: 1s }",
            &format!(
                "window: {{ traces: 50, timeout: 30s }}\n    frequency: {{ model: \"{}\" }}",
                model.display()
            ),
        )
}

/// Starts a pipeline with the detectors its config names, as `spanguard run` does.
pub async fn start_with_detectors(config: &Config) -> spanguard_pipeline::Running {
    let registry = spanguard_telemetry::Registry::new();
    let built =
        spanguard_pipeline::detectors::build("anomaly", &config.processor.config, &registry).expect("detectors build");
    spanguard_pipeline::start(config, built.detectors, registry)
        .await
        .expect("pipeline starts")
}

/// A real OpenTelemetry SDK tracer provider exporting to spanguard.
pub fn sdk(protocol: Protocol, endpoint: String, service: &str) -> SdkTracerProvider {
    let exporter = match protocol {
        Protocol::Grpc => opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(endpoint)
            .build(),
        p => opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(p)
            .with_endpoint(endpoint)
            .build(),
    }
    .expect("SDK exporter builds");
    SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(
            opentelemetry_sdk::Resource::builder()
                .with_service_name(service.to_owned())
                .build(),
        )
        .build()
}

/// Emits `traces` traces of one root and two children, each span carrying `test.trace` and `user`.
pub fn emit(provider: &SdkTracerProvider, traces: usize) {
    use opentelemetry::trace::{Span as _, TraceContextExt};
    let tracer = provider.tracer("spanguard-tests");
    for i in 0..traces {
        let attrs = vec![OtelKv::new("test.trace", i as i64), OtelKv::new("user", "alice")];
        let root = tracer
            .span_builder("login")
            .with_attributes(attrs.clone())
            .start(&tracer);
        let cx = opentelemetry::Context::current_with_span(root);
        for child in ["check-password", "load-profile"] {
            let mut s = tracer
                .span_builder(child)
                .with_attributes(attrs.clone())
                .start_with_context(&tracer, &cx);
            s.end();
        }
        cx.span().end();
    }
}

/// Every span the sink received, with its service name.
pub fn spans(requests: &[ExportTraceServiceRequest]) -> Vec<(String, Span)> {
    let mut out = Vec::new();
    for r in requests {
        for rs in &r.resource_spans {
            let service = rs
                .resource
                .as_ref()
                .and_then(|res| res.attributes.iter().find(|kv| kv.key == "service.name"))
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| match &v.value {
                    Some(Value::StringValue(s)) => Some(s.clone()),
                    _ => None,
                })
                .unwrap_or_default();
            for ss in &rs.scope_spans {
                for s in &ss.spans {
                    out.push((service.clone(), s.clone()));
                }
            }
        }
    }
    out
}

/// The value of attribute `key` on `span`.
pub fn attr<'a>(span: &'a Span, key: &str) -> Option<&'a Value> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

/// An attribute.
pub fn kv(key: &str, value: Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(value) }),
        key_strindex: 0,
    }
}

/// A hand-built request: `traces` traces of `spans_per_trace` spans, trace ids starting at `first`.
pub fn request(first: u32, traces: u32, spans_per_trace: u32, service: &str) -> ExportTraceServiceRequest {
    request_at(first, traces, spans_per_trace, service, 1_700_000_000_000_000_000)
}

/// As [`request`], with spans starting at `t_ns`.
pub fn request_at(
    first: u32,
    traces: u32,
    spans_per_trace: u32,
    service: &str,
    t_ns: u64,
) -> ExportTraceServiceRequest {
    let mut spans = Vec::new();
    for t in first..first + traces {
        let mut trace_id = [0u8; 16];
        trace_id[..4].copy_from_slice(&t.to_be_bytes());
        trace_id[15] = 1;
        for s in 0..spans_per_trace {
            let mut span_id = [0u8; 8];
            span_id[..4].copy_from_slice(&t.to_be_bytes());
            span_id[4..].copy_from_slice(&(s + 1).to_be_bytes());
            let parent = if s == 0 {
                Vec::new()
            } else {
                [&t.to_be_bytes()[..], &1u32.to_be_bytes()[..]].concat()
            };
            spans.push(Span {
                trace_id: trace_id.to_vec(),
                span_id: span_id.to_vec(),
                parent_span_id: parent,
                name: format!("op-{s}"),
                kind: 2,
                start_time_unix_nano: t_ns + u64::from(s) * 1000,
                end_time_unix_nano: t_ns + u64::from(s) * 1000 + 500,
                attributes: vec![kv("test.trace", Value::IntValue(i64::from(t)))],
                ..Default::default()
            });
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![kv("service.name", Value::StringValue(service.into()))],
                ..Default::default()
            }),
            scope_spans: vec![ScopeSpans {
                spans,
                ..Default::default()
            }],
            schema_url: String::new(),
        }],
    }
}

/// A plain OTLP/gRPC client (the generated one) to `addr`.
pub async fn grpc_client(addr: std::net::SocketAddr) -> TraceServiceClient<tonic::transport::Channel> {
    TraceServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect to spanguard")
}

#[derive(Clone, Copy, Default)]
struct RawCodec;
struct RawEnc;
struct RespDec;

impl Encoder for RawEnc {
    type Item = Bytes;
    type Error = Status;
    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put(item);
        Ok(())
    }
}

impl Decoder for RespDec {
    type Item = ExportTraceServiceResponse;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Self::Item>, Status> {
        let n = src.remaining();
        ExportTraceServiceResponse::decode(src.copy_to_bytes(n))
            .map(Some)
            .map_err(|e| Status::internal(e.to_string()))
    }
}

impl Codec for RawCodec {
    type Encode = Bytes;
    type Decode = ExportTraceServiceResponse;
    type Encoder = RawEnc;
    type Decoder = RespDec;
    fn encoder(&mut self) -> RawEnc {
        RawEnc
    }
    fn decoder(&mut self) -> RespDec {
        RespDec
    }
}

/// Sends arbitrary bytes as the body of `TraceService/Export`.
pub async fn grpc_raw(addr: std::net::SocketAddr, body: Vec<u8>) -> Result<ExportTraceServiceResponse, Status> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("url")
        .connect()
        .await
        .expect("connect");
    let mut grpc = tonic::client::Grpc::new(channel).max_encoding_message_size(usize::MAX);
    grpc.ready().await.expect("ready");
    let path = http::uri::PathAndQuery::from_static("/opentelemetry.proto.collector.trace.v1.TraceService/Export");
    grpc.unary(tonic::Request::new(Bytes::from(body)), path, RawCodec)
        .await
        .map(|r| r.into_inner())
}

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub async fn eventually(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The Python with the OpenTelemetry SDK, onnx and onnxruntime that `scripts/setup` installs into `.venv`.
pub fn python() -> String {
    let p = std::env::var("SPANGUARD_PYTHON")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/.venv/bin/python").to_owned());
    assert!(
        std::path::Path::new(&p).exists(),
        "{p} not found: run scripts/setup (the README's test command does) to install the Python packages"
    );
    p
}

/// The real OnlineBoutique recording in the repository (datasets/README.md).
pub const ONLINE_BOUTIQUE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/datasets/onlineboutique.otlp.jsonl.gz");

/// Runs the `spanguard` binary with `args`; its standard output, after asserting it succeeded.
pub fn spanguard(args: &[&str]) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_spanguard"))
        .args(args)
        .output()
        .expect("run spanguard");
    assert!(
        out.status.success(),
        "spanguard {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// One JSON value per line of `text`.
pub fn json_lines(text: &str) -> Vec<serde_json::Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect()
}

/// Whether the eBPF probe can run here (root, BTF, raw tracepoints); without it a test skips with a message,
/// unless `SPANGUARD_REQUIRE_EBPF=1` (CI), which makes the skip a failure.
pub fn ebpf_available() -> bool {
    match spanguard_ebpf_probe::preflight() {
        Ok(()) => true,
        Err(e) if std::env::var("SPANGUARD_REQUIRE_EBPF").as_deref() == Ok("1") => {
            panic!("SPANGUARD_REQUIRE_EBPF=1 but the probe cannot run: {e}")
        }
        Err(e) => {
            eprintln!("SKIPPED: {e}");
            false
        }
    }
}
