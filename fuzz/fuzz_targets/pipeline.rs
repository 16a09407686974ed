//! Shared by the OTLP targets: what the pipeline does with a request that decoded — split it into span records,
//! assemble traces, extract their call sequences, window and enrich them, regroup and re-encode. Decoding is only
//! the first place hostile input can hurt.

use std::time::{Duration, Instant};

use prost::Message;
use spanguard_processor::assembly::Assembler;
use spanguard_processor::enrich::{enrich, window_attributes};
use spanguard_processor::frequency::sequence::{SequenceExtractor, Vocabulary};
use spanguard_processor::record::split_request;
use spanguard_processor::regroup::regroup;
use spanguard_processor::trace::trace_id_of;
use spanguard_processor::{Trace, Window};

pub fn run(req: spanguard_receiver::Request) {
    let mut asm = Assembler::new(Duration::from_secs(1), 1_000, 10_000);
    let mut traces = Vec::new();
    let now = Instant::now();
    let mut done = |t: Trace, _| traces.push(t);
    split_request(req, |r| {
        if let Some(id) = trace_id_of(&r.span.trace_id) {
            asm.add(id, r, now, &mut done);
        }
    });
    asm.drain(&mut done);
    let mut vocab = Vocabulary::new();
    let mut ex = SequenceExtractor::new();
    for t in &traces {
        let _ = ex.sequence(t, &mut vocab);
        let _ = (t.root_index(), t.start_ns(), t.end_ns());
    }
    let w = Window::new("fuzz-1", 1, traces, false);
    let attrs = window_attributes(&w, &[]);
    let out = regroup(enrich(w, &[], &attrs));
    let _ = out.encode_to_vec();
}
