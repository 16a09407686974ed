//! `receivers.otlp.limits` over a real socket: spans beyond `max_spans_per_request` are rejected as an OTLP
//! partial success, attributes beyond `max_attributes_per_span` are dropped (the span's `dropped_attributes_count`
//! says so downstream), long strings are cut, and every one of these is counted.

mod common;

use std::time::Duration;

use common::kv;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_telemetry::names;
use spanguard_testkit::sink::Sink;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_requests_and_spans_are_cut_to_the_limits_and_counted() {
    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace(
        "      http: { endpoint: \"127.0.0.1:0\" }\n",
        "      http: { endpoint: \"127.0.0.1:0\" }\n    limits: { max_spans_per_request: 5, max_attributes_per_span: 3, max_attribute_value_length: 8 }\n",
    );
    let running = spanguard_pipeline::start(&common::parse(&text), Vec::new(), spanguard_telemetry::Registry::new())
        .await
        .unwrap();
    // 2 traces × 4 spans, each span with 5 attributes, one of them a 100-byte string.
    let mut req = common::request(1, 2, 4, "svc");
    for s in req.resource_spans[0].scope_spans[0].spans.iter_mut() {
        s.attributes = vec![
            kv("long", Value::StringValue("x".repeat(100))),
            kv("a", Value::IntValue(1)),
            kv("b", Value::IntValue(2)),
            kv("c", Value::IntValue(3)),
            kv("d", Value::IntValue(4)),
        ];
    }
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let resp = client.export(req).await.unwrap().into_inner();
    let partial = resp.partial_success.expect("a partial success");
    assert_eq!(partial.rejected_spans, 3, "{}", partial.error_message);
    assert!(
        partial.error_message.contains("max_spans_per_request"),
        "{}",
        partial.error_message
    );

    assert_eq!(sink.wait_for(5, Duration::from_secs(10)).await, 5);
    let metrics = running.registry.render();
    running.shutdown(Duration::from_secs(5)).await;
    let spans = common::spans(&sink.requests());
    assert_eq!(spans.len(), 5);
    for (_, s) in &spans {
        let own: Vec<_> = s
            .attributes
            .iter()
            .filter(|kv| !kv.key.starts_with("anomaly."))
            .collect();
        assert_eq!(own.len(), 3, "{:?}", own);
        assert_eq!(s.dropped_attributes_count, 2);
        assert_eq!(common::attr(s, "long"), Some(&Value::StringValue("x".repeat(8))));
    }
    for line in [
        format!(
            "{}{{protocol=\"grpc\",reason=\"too_many_spans\"}} 3",
            names::RECEIVER_REFUSED_SPANS.name
        ),
        format!(
            "{}{{protocol=\"grpc\",what=\"attributes\"}} 10",
            names::RECEIVER_TRUNCATED.name
        ),
        format!(
            "{}{{protocol=\"grpc\",what=\"attribute_values\"}} 5",
            names::RECEIVER_TRUNCATED.name
        ),
    ] {
        assert!(metrics.contains(&line), "{line} in\n{metrics}");
    }
}
