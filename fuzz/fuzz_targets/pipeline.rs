//! Shared by the OTLP targets: what the pipeline does with the span records of a request that was accepted —
//! assemble traces, extract their call sequences, window and enrich them (spans that arrived with `anomaly.*`
//! keys have them replaced), and encode them again. Whatever went in, what comes out must be a valid request
//! carrying every span. Decoding is only the first place hostile input can hurt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prost::Message;
use spanguard_otlp::SpanRecord;
use spanguard_processor::assembly::Assembler;
use spanguard_processor::enrich::{enrich, window_attributes};
use spanguard_processor::frequency::sequence::{SequenceExtractor, Vocabulary};
use spanguard_processor::{Appended, Trace, Window};

pub fn run(records: Vec<SpanRecord>) {
    let n = records.len();
    let mut asm = Assembler::new(Duration::from_secs(1), 1_000, 10_000);
    let mut traces = Vec::new();
    let now = Instant::now();
    let mut done = |t: Trace, _| traces.push(t);
    for r in records {
        asm.add(*r.trace_id(), r, now, &mut done);
    }
    asm.drain(&mut done);
    let mut vocab = Vocabulary::new();
    let mut ex = SequenceExtractor::new();
    for t in &traces {
        let _ = ex.sequence(t, &mut vocab);
        let _ = (t.root_index(), t.start_ns(), t.end_ns());
    }
    let w = Window::new("fuzz-1", 1, traces, false);
    let own = window_attributes(&w, &[]);
    let attrs = Arc::new(Appended::new(&own));
    let out = enrich(w, &[], &own, &attrs);
    let encoded = spanguard_otlp::encode_request(&out);
    let back = spanguard_receiver::Request::decode(&encoded[..]).expect("spanguard's output is a valid request");
    assert_eq!(spanguard_otlp::span_count(&back), n, "every span leaves");
}
