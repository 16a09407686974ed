//! Nothing is lost: a downstream outage is ridden out with retries, a full pipeline answers with backpressure
//! instead of buffering without bound, and late spans are forwarded with their window's verdict.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use prost::Message;
use spanguard_telemetry::names;
use spanguard_testkit::sink::Sink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downstream_down_then_up_delivers_every_span_once() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    sink.set_down(true);
    let running = spanguard_pipeline::start(
        &common::config(&sink.url()),
        Vec::new(),
        spanguard_telemetry::Registry::new(),
    )
    .await
    .unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    for i in 0..10 {
        client.export(common::request(i * 3, 3, 4, "svc")).await.unwrap();
    }
    // Windows close (trace_wait 200ms) and export attempts fail while the sink is down.
    assert!(common::eventually(Duration::from_secs(10), || sink.refused() >= 3).await);
    assert_eq!(sink.span_count(), 0);
    sink.set_down(false);
    assert_eq!(sink.wait_for(120, Duration::from_secs(15)).await, 120);
    let retries = running.registry.counter_total(&names::EXPORTER_RETRIES);
    assert!(retries >= 3, "the outage was ridden out by counted retries ({retries})");
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.clean);
    assert_eq!(report.dropped_spans, 0);
    let spans = common::spans(&sink.requests());
    let ids: HashSet<Vec<u8>> = spans.iter().map(|(_, s)| s.span_id.clone()).collect();
    assert_eq!((spans.len(), ids.len()), (120, 120), "every span exactly once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_pipeline_answers_backpressure_then_recovers() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    sink.set_down(true);
    // Tiny queues everywhere so that a downstream outage fills the pipeline quickly.
    let text = common::config_text(&sink.url())
        .replace("trace_wait: 200ms", "trace_wait: 10ms\n    queue_size: 1")
        .replace(
            "window: { traces: 5, timeout: 1s }",
            "window: { traces: 1, timeout: 1s }",
        )
        .replace(
            "batch: { send_batch_size: 64, timeout: 50ms }",
            "batch: { send_batch_size: 1, timeout: 10ms }\n    sending_queue: { queue_size: 1, num_consumers: 1 }",
        );
    let running = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let http = reqwest::Client::new();
    let url = format!("http://{}/v1/traces", running.http_addrs[0]);

    let mut accepted = 0u64;
    let mut grpc_refusal = None;
    for i in 0..500u32 {
        match client.export(common::request(i, 1, 2, "svc")).await {
            Ok(_) => accepted += 2,
            Err(status) => {
                grpc_refusal = Some(status);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = grpc_refusal.expect("a full pipeline must refuse within 500 requests");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    assert!(!status.details().is_empty(), "UNAVAILABLE carries RetryInfo details");

    let r = http
        .post(&url)
        .header("content-type", "application/x-protobuf")
        .body(common::request(10_000, 1, 2, "svc").encode_to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "1");

    let refused = running.registry.counter_total(&names::RECEIVER_REFUSED_SPANS);
    assert!(refused >= 4, "refusals are counted: {refused}");

    // Downstream recovers: everything that was accepted is delivered, and new requests are accepted again.
    sink.set_down(false);
    assert_eq!(sink.wait_for(accepted, Duration::from_secs(20)).await, accepted);
    client
        .export(common::request(20_000, 1, 2, "svc"))
        .await
        .expect("accepting again after recovery");
    accepted += 2;
    let report = running.shutdown(Duration::from_secs(10)).await;
    assert!(report.clean);
    assert_eq!(sink.span_count(), accepted, "spans at the sink = spans acknowledged");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_span_is_forwarded_with_its_windows_verdict() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let running = spanguard_pipeline::start(
        &common::config(&sink.url()),
        Vec::new(),
        spanguard_telemetry::Registry::new(),
    )
    .await
    .unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let mut req = common::request(7, 1, 3, "svc");
    let late_span = req.resource_spans[0].scope_spans[0].spans.pop().unwrap();
    client.export(req.clone()).await.unwrap();
    assert_eq!(
        sink.wait_for(2, Duration::from_secs(5)).await,
        2,
        "the window closes by timeout"
    );
    req.resource_spans[0].scope_spans[0].spans = vec![late_span.clone()];
    client.export(req).await.unwrap();
    assert_eq!(sink.wait_for(3, Duration::from_secs(5)).await, 3);
    running.shutdown(Duration::from_secs(5)).await;

    let spans = common::spans(&sink.requests());
    let window_of = |s: &opentelemetry_proto::tonic::trace::v1::Span| common::attr(s, "anomaly.window.id").cloned();
    let late = spans
        .iter()
        .find(|(_, s)| s.span_id == late_span.span_id)
        .expect("late span delivered")
        .1
        .clone();
    let on_time = spans
        .iter()
        .find(|(_, s)| s.span_id != late_span.span_id)
        .unwrap()
        .1
        .clone();
    assert_eq!(common::attr(&late, "anomaly.late"), Some(&Value::BoolValue(true)));
    assert!(window_of(&late).is_some());
    assert_eq!(
        window_of(&late),
        window_of(&on_time),
        "late span carries its trace's window"
    );
    assert_eq!(common::attr(&on_time, "anomaly.late"), None);
    let late_count = spans
        .iter()
        .filter(|(_, s)| common::attr(s, "anomaly.late").is_some())
        .count();
    assert_eq!(late_count, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_max_traces_the_oldest_is_flushed_early_and_counted() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace("trace_wait: 200ms", "trace_wait: 30s\n    max_traces: 3");
    let running = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    client.export(common::request(1, 5, 2, "svc")).await.unwrap();
    // trace_wait is 30s, yet two traces must leave at once (5 traces, max 3) and be counted.
    assert!(
        common::eventually(Duration::from_secs(5), || {
            running
                .registry
                .counter_value(&names::PROCESSOR_TRACES_COMPLETED, &[("reason", "max_traces")])
                == 2
        })
        .await
    );
    let report = running.shutdown(Duration::from_secs(5)).await;
    assert!(report.clean);
    assert_eq!(sink.span_count(), 10, "the rest is flushed at shutdown, nothing lost");
}
