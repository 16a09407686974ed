//! The frequency detector inside the running pipeline: every span carries the window's distance and threshold,
//! root spans their sequence's baseline frequency, and the attack window is flagged — with exactly the numbers
//! the offline detector computes for the same windows.

mod common;

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_processor::frequency::baseline::Statistic;
use spanguard_processor::frequency::drift::Adaptation;
use spanguard_processor::frequency::{train, FrequencyDetector, TrainOptions};
use spanguard_processor::offline::assemble;
use spanguard_testkit::sink::Sink;
use spanguard_testkit::workload::socialnet::paper_sets;

fn f64_attr(span: &opentelemetry_proto::tonic::trace::v1::Span, key: &str) -> Option<f64> {
    match common::attr(span, key) {
        Some(Value::DoubleValue(d)) => Some(*d),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spans_carry_the_frequency_verdict() {
    let sets = paper_sets(0);
    let (normal, _) = assemble(sets.normal.clone());
    let (validation, _) = assemble(sets.validation.clone());
    let opts = TrainOptions {
        statistic: Statistic::Chi { min_frequency: 0.01 },
        adaptation: Adaptation::recommended(),
        ..TrainOptions::default()
    };
    let model = train(&normal, &validation, &opts).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frequency.json");
    model.save(&path).unwrap();

    // What the offline detector says about the same stream: the ten validation windows, then the attack.
    let mut stream = sets.validation.clone();
    stream.extend(sets.attack.clone());
    let (stream_traces, _) = assemble(stream.clone());
    let mut offline = FrequencyDetector::new(&model);
    let expected: Vec<(f64, bool)> = stream_traces
        .chunks(50)
        .map(|w| {
            let v = offline.evaluate(w);
            (v.distance, v.anomalous || v.sustained)
        })
        .collect();
    assert!(expected[10].1, "the attack window is anomalous offline");

    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let config = common::parse(&common::frequency_config_text(&sink.url(), &path));
    let running = common::start_with_detectors(&config).await;
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let total_spans: usize = stream_traces.iter().map(|t| t.spans.len()).sum();
    for req in stream {
        client.export(req).await.unwrap();
    }
    // Every span, plus one incident span per anomalous window.
    let incidents_expected = expected.iter().filter(|(_, flagged)| *flagged).count();
    let total = (total_spans + incidents_expected) as u64;
    assert_eq!(sink.wait_for(total, Duration::from_secs(30)).await, total);
    running.shutdown(Duration::from_secs(5)).await;

    let (incidents, spans): (Vec<_>, Vec<_>) = common::spans(&sink.requests())
        .into_iter()
        .partition(|(service, s)| service == "spanguard" && s.name == "anomaly.window");
    assert_eq!(incidents.len(), incidents_expected);
    let attack_traces: HashSet<Vec<u8>> = stream_traces[500..].iter().map(|t| t.id.to_vec()).collect();
    for (_, incident) in &incidents {
        assert_eq!(incident.links.len(), 50, "the incident links every trace of its window");
        assert!(incident.links.iter().all(|l| attack_traces.contains(&l.trace_id)));
    }
    let trace_window: HashMap<[u8; 16], usize> =
        stream_traces.iter().enumerate().map(|(i, t)| (t.id, i / 50)).collect();
    let mut roots = 0;
    let mut seen_windows = HashSet::new();
    for (_, span) in &spans {
        let w = trace_window[&<[u8; 16]>::try_from(&span.trace_id[..]).unwrap()];
        seen_windows.insert(w);
        let distance = f64_attr(span, "anomaly.frequency.distance").expect("every span has the distance");
        let threshold = f64_attr(span, "anomaly.frequency.threshold").expect("and the threshold");
        assert_eq!(threshold, model.validation.threshold);
        assert!(
            (distance - expected[w].0).abs() < 1e-12,
            "window {w}: pipeline {distance} vs offline {}",
            expected[w].0
        );
        let detected = common::attr(span, "anomaly.detected") == Some(&Value::BoolValue(true));
        assert_eq!(detected, expected[w].1, "window {w}");
        if detected {
            let Some(Value::ArrayValue(a)) = common::attr(span, "anomaly.detectors") else {
                panic!("anomaly.detectors")
            };
            assert_eq!(a.values[0].value, Some(Value::StringValue("frequency".into())));
        }
        let freq = f64_attr(span, "anomaly.trace.sequence_frequency");
        if span.parent_span_id.is_empty() {
            roots += 1;
            let f = freq.expect("root spans carry their sequence's baseline frequency");
            assert!((0.0..=1.0).contains(&f));
        } else {
            assert!(freq.is_none(), "only root spans carry anomaly.trace.sequence_frequency");
        }
    }
    assert_eq!(seen_windows.len(), 11);
    assert_eq!(roots, 550);
    // A failed-login root span in the attack window: its sequence is rare in the baseline but not unseen.
    let failed = spans
        .iter()
        .filter(|(_, s)| s.name == "Login" && common::attr(s, "http.status_code") == Some(&Value::IntValue(401)))
        .filter_map(|(_, s)| f64_attr(s, "anomaly.trace.sequence_frequency"))
        .fold(f64::INFINITY, f64::min);
    assert!(failed > 0.0 && failed < 0.1, "{failed}");
}
