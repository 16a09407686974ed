//! A real OpenTelemetry SDK exports to spanguard over each OTLP transport; a real OTLP sink is the next hop.
//! Every span must arrive exactly once, its own attributes intact, with the window attributes added.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use opentelemetry_otlp::Protocol;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_testkit::sink::Sink;

async fn roundtrip(protocol: Protocol) {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let cfg = common::config(&sink.url());
    let running = spanguard_pipeline::start(&cfg, Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let endpoint = match protocol {
        Protocol::Grpc => format!("http://{}", running.grpc_addrs[0]),
        _ => format!("http://{}/v1/traces", running.http_addrs[0]),
    };
    let provider = common::sdk(protocol, endpoint, "auth-service");
    common::emit(&provider, 12);
    provider
        .force_flush()
        .expect("SDK flush succeeds: spanguard accepted the export");
    provider.shutdown().expect("SDK shutdown");

    assert_eq!(sink.wait_for(36, Duration::from_secs(10)).await, 36);
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.clean);
    assert_eq!(report.dropped_spans, 0);

    let spans = common::spans(&sink.requests());
    assert_eq!(spans.len(), 36, "each span exactly once");
    let ids: HashSet<Vec<u8>> = spans.iter().map(|(_, s)| s.span_id.clone()).collect();
    assert_eq!(ids.len(), 36, "no duplicates");

    let mut per_window: HashMap<String, (i64, HashSet<Vec<u8>>)> = HashMap::new();
    for (service, span) in &spans {
        assert_eq!(service, "auth-service", "resource intact");
        assert_eq!(
            common::attr(span, "user"),
            Some(&Value::StringValue("alice".into())),
            "own attributes intact"
        );
        assert!(matches!(common::attr(span, "test.trace"), Some(Value::IntValue(_))));
        assert!(["login", "check-password", "load-profile"].contains(&span.name.as_str()));
        let Some(Value::StringValue(window)) = common::attr(span, "anomaly.window.id") else {
            panic!("span {} has no anomaly.window.id", span.name)
        };
        let Some(Value::IntValue(n)) = common::attr(span, "anomaly.window.traces") else {
            panic!("no anomaly.window.traces")
        };
        assert_eq!(common::attr(span, "anomaly.detected"), Some(&Value::BoolValue(false)));
        let entry = per_window.entry(window.clone()).or_insert((*n, HashSet::new()));
        assert_eq!(entry.0, *n, "one window, one trace count");
        entry.1.insert(span.trace_id.clone());
    }
    // 12 traces in windows of 5: two full windows and one partial one of 2 (closed by timeout or shutdown).
    let mut sizes: Vec<i64> = per_window
        .values()
        .map(|(n, traces)| {
            assert_eq!(
                *n as usize,
                traces.len(),
                "anomaly.window.traces counts the window's traces"
            );
            *n
        })
        .collect();
    sizes.sort();
    assert_eq!(sizes, vec![2, 5, 5]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_grpc() {
    roundtrip(Protocol::Grpc).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_http_protobuf() {
    roundtrip(Protocol::HttpBinary).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sdk_over_http_json() {
    roundtrip(Protocol::HttpJson).await;
}
