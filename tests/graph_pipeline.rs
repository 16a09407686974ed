//! The graph detector inside the running pipeline, fed by an events file it follows: windows of traces that
//! fall in anomalous data-exchange intervals are flagged, with the guilty services named.

mod common;

use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_ebpf_probe::file::write_events;
use spanguard_processor::graph::autoencoder::TrainSettings;
use spanguard_processor::graph::train::{save, train_graph, GraphTrainOptions};
use spanguard_testkit::sink::Sink;
use spanguard_testkit::workload::lte::{events, Scenario};

const S: u64 = 1_000_000_000;
const T: u64 = 1_700_000_000_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn windows_take_the_verdict_of_their_intervals() {
    let dir = tempfile::tempdir().unwrap();
    // A model of 1-second intervals, trained on normal traffic (with genuine restarts, which are normal).
    let mut normal = events(Scenario::Normal, T - 1000 * S, 150, S, 1);
    normal.extend(events(Scenario::GenuineRestart, T - 850 * S, 40, S, 2));
    let mut validation = events(Scenario::Normal, T - 500 * S, 40, S, 3);
    validation.extend(events(Scenario::GenuineRestart, T - 460 * S, 10, S, 4));
    let opts = GraphTrainOptions {
        interval_ns: S,
        autoencoder: TrainSettings {
            epochs: 800,
            ..TrainSettings::default()
        },
        ..GraphTrainOptions::default()
    };
    let trained = train_graph(&normal, Some(&validation), &opts, |_, _, _| {}).unwrap();
    let model = dir.path().join("graph");
    save(&trained, &model).unwrap();

    // What the probe recorded: 20 s of normal operation, then 10 s of a fake PGW-restart attack.
    let path = dir.path().join("events.jsonl");
    let mut recorded = events(Scenario::Normal, T, 20, S, 5);
    recorded.extend(events(Scenario::FakePgwRestart, T + 20 * S, 10, S, 6));
    write_events(&path, &recorded).unwrap();

    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let text = common::config_text(&sink.url()).replace(
        "window: { traces: 5, timeout: 1s }",
        &format!(
            "window: {{ traces: 5, timeout: 30s }}\n    graph: {{ model: \"{}\", events: {{ source: file, path: \"{}\" }} }}",
            model.display(),
            path.display()
        ),
    );
    let config = common::parse(&text);
    let registry = spanguard_telemetry::Registry::new();
    let built = spanguard_pipeline::detectors::build("anomaly", &config.processor.config, &registry).unwrap();
    let log = built.latest.clone().expect("the graph detector runs");
    // The follower reads the file and the feed scores it; the last interval closes after 2 s of quiet.
    assert!(
        common::eventually(Duration::from_secs(30), || log
            .get()
            .is_some_and(|s| s.end >= T + 30 * S))
        .await
    );
    let running = spanguard_pipeline::start(&config, built.detectors, registry)
        .await
        .unwrap();
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    // A window of traces during normal operation, then one during the attack.
    client
        .export(common::request_at(1, 5, 3, "web", T + 5 * S))
        .await
        .unwrap();
    assert_eq!(sink.wait_for(15, Duration::from_secs(10)).await, 15);
    client
        .export(common::request_at(100, 5, 3, "web", T + 25 * S))
        .await
        .unwrap();
    // 15 more spans, and the incident span of the anomalous window.
    assert_eq!(sink.wait_for(31, Duration::from_secs(10)).await, 31);
    let metrics = running.registry.render();
    running.shutdown(Duration::from_secs(5)).await;
    built.background.stop();

    let spans = common::spans(&sink.requests());
    let during = |s: &opentelemetry_proto::tonic::trace::v1::Span| s.start_time_unix_nano >= T + 20 * S;
    for (_, span) in &spans {
        let Some(Value::DoubleValue(score)) = common::attr(span, "anomaly.graph.score") else {
            panic!("every span carries anomaly.graph.score")
        };
        let Some(Value::DoubleValue(threshold)) = common::attr(span, "anomaly.graph.threshold") else {
            panic!("and anomaly.graph.threshold")
        };
        let detected = common::attr(span, "anomaly.detected") == Some(&Value::BoolValue(true));
        if during(span) {
            assert!(
                detected,
                "a window inside the attack is flagged (score {score}, threshold {threshold})"
            );
            let Some(Value::ArrayValue(d)) = common::attr(span, "anomaly.detectors") else {
                panic!("anomaly.detectors")
            };
            assert_eq!(d.values[0].value, Some(Value::StringValue("graph".into())));
            let Some(Value::ArrayValue(svc)) = common::attr(span, "anomaly.graph.services") else {
                panic!("services")
            };
            assert!(!svc.values.is_empty());
        } else {
            assert!(
                !detected,
                "a window in normal operation is not (score {score}, threshold {threshold})"
            );
            assert!(score < threshold);
        }
    }
    assert!(
        metrics.contains("spanguard_graph_intervals_total{anomalous=\"true\"} 10"),
        "{metrics}"
    );
    assert!(
        metrics.contains("spanguard_graph_intervals_total{anomalous=\"false\"} 20"),
        "{metrics}"
    );
}
