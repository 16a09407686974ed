//! A forged call path in the running pipeline, on real traffic: OnlineBoutique traces stream through
//! `spanguard run` with the default (evidence) frequency model, then a window in which five requests follow a
//! path no normal trace ever took (a real checkout trace with one call removed). The pipeline must say what the
//! offline detector says about the same windows, and name the forged path: on the window's spans
//! (`anomaly.frequency.novel`), on the forged traces' root spans (`anomaly.trace.novel`, `anomaly.trace.surge`,
//! `anomaly.trace.divergence`), and on the incident (`anomaly.frequency.novel_paths`).

mod common;

use std::collections::HashMap;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use spanguard_processor::frequency::{train, FrequencyDetector, TrainOptions};
use spanguard_processor::offline::assemble;
use spanguard_testkit::sink::Sink;

/// Every span of `req`.
fn spans_mut(
    req: &mut ExportTraceServiceRequest,
) -> impl Iterator<Item = &mut opentelemetry_proto::tonic::trace::v1::Span> {
    req.resource_spans
        .iter_mut()
        .flat_map(|r| r.scope_spans.iter_mut())
        .flat_map(|s| s.spans.iter_mut())
}

/// The trace id of forged trace `i`.
fn forged_id(i: u8) -> [u8; 16] {
    [0xf0, 0x12, 0x9e, i, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
}

/// `req` (one trace) with one leaf call removed (the last span nobody is parent of) and trace id `id`.
fn forged(req: &ExportTraceServiceRequest, id: u8) -> ExportTraceServiceRequest {
    let mut out = req.clone();
    let parents: Vec<Vec<u8>> = spans_mut(&mut out).map(|s| s.parent_span_id.clone()).collect();
    let leaf = spans_mut(&mut out)
        .filter(|s| !s.parent_span_id.is_empty() && !parents.contains(&s.span_id))
        .map(|s| s.span_id.clone())
        .last()
        .expect("a trace with a leaf call");
    for r in &mut out.resource_spans {
        for s in &mut r.scope_spans {
            s.spans.retain(|span| span.span_id != leaf);
        }
    }
    for s in spans_mut(&mut out) {
        s.trace_id = forged_id(id).to_vec();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_call_path_is_named_in_the_pipeline() {
    let file = spanguard_receiver::file::read_trace_file(std::path::Path::new(common::ONLINE_BOUTIQUE), false).unwrap();
    // One trace per line, in time order for this part of the recording.
    let requests = file.requests;
    let (training, _) = assemble(requests[..1500].to_vec());
    let (validation, _) = assemble(requests[1500..2000].to_vec());
    let model = train(&training, &validation, &TrainOptions::evidence()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("frequency.json");
    model.save(&path).unwrap();

    // Three normal windows, then one with 45 normal traces and five forged checkouts.
    let checkout = requests[..1500]
        .iter()
        .find(|r| serde_json::to_string(r).unwrap().contains("PlaceOrder"))
        .expect("a checkout trace");
    let mut stream: Vec<ExportTraceServiceRequest> = requests[2000..2195].to_vec();
    stream.extend((0..5).map(|i| forged(checkout, i)));
    let (stream_traces, _) = assemble(stream.clone());
    assert_eq!(stream_traces.len(), 200);
    let mut offline = FrequencyDetector::new(&model);
    let expected: Vec<bool> = stream_traces
        .chunks(50)
        .map(|w| {
            let v = offline.evaluate(w);
            v.anomalous || v.sustained
        })
        .collect();
    assert_eq!(
        expected,
        vec![false, false, false, true],
        "offline: only the forged window is flagged"
    );

    let sink = Sink::start("127.0.0.1:0", true).await.unwrap();
    let config = common::parse(&common::frequency_config_text(&sink.url(), &path));
    let running = common::start_with_detectors(&config).await;
    let mut client = common::grpc_client(running.grpc_addrs[0]).await;
    let total_spans: usize = stream_traces.iter().map(|t| t.spans.len()).sum();
    for req in stream {
        client.export(req).await.unwrap();
    }
    let total = (total_spans + 1) as u64;
    assert_eq!(sink.wait_for(total, Duration::from_secs(30)).await, total);
    running.shutdown(Duration::from_secs(5)).await;

    let (incidents, spans): (Vec<_>, Vec<_>) = common::spans(&sink.requests())
        .into_iter()
        .partition(|(service, s)| service == "spanguard" && s.name == "anomaly.window");
    assert_eq!(incidents.len(), 1);
    match common::attr(&incidents[0].1, "anomaly.frequency.novel_paths") {
        Some(Value::ArrayValue(a)) => {
            let Some(Value::StringValue(first)) = &a.values[0].value else {
                panic!("{a:?}")
            };
            assert!(first.contains("lacks") && first.contains("(5 traces)"), "{first}");
        }
        other => panic!("the incident names the never-seen path: {other:?}"),
    }
    let window_of: HashMap<[u8; 16], usize> = stream_traces.iter().enumerate().map(|(i, t)| (t.id, i / 50)).collect();
    let mut forged_roots = 0;
    for (_, span) in &spans {
        let w = window_of[&<[u8; 16]>::try_from(&span.trace_id[..]).unwrap()];
        let detected = common::attr(span, "anomaly.detected") == Some(&Value::BoolValue(true));
        assert_eq!(
            detected, expected[w],
            "window {w}: the pipeline says what the offline detector says"
        );
        let novel = common::attr(span, "anomaly.frequency.novel") == Some(&Value::BoolValue(true));
        assert_eq!(novel, w == 3, "window {w}");
        let is_forged = (0..5).any(|i| span.trace_id == forged_id(i));
        if span.parent_span_id.is_empty() {
            let flag = |k| common::attr(span, k) == Some(&Value::BoolValue(true));
            // Real traffic has its own never-seen paths, once each: those are novel, but no surge.
            assert!(flag("anomaly.trace.novel") || !is_forged, "{span:?}");
            assert_eq!(flag("anomaly.trace.surge"), is_forged, "{span:?}");
            if is_forged {
                forged_roots += 1;
                match common::attr(span, "anomaly.trace.divergence") {
                    Some(Value::StringValue(d)) => assert!(d.contains("lacks"), "{d}"),
                    other => panic!("a forged root says where its path diverges: {other:?}"),
                }
            }
        }
    }
    assert_eq!(forged_roots, 5);
}
