//! The pass-through's hot paths, per request of 512 spans (64 traces × 8 spans, 10 attributes, OnlineBoutique
//! shapes — the same load as `spanguard bench`): scan the request into span records, assemble them into traces,
//! extract the call sequences, enrich with window attributes, encode. Where a hop spends its CPU shows here
//! first. `prost decode` is the full decode into owned types that the scan replaces, for comparison.
//! `cargo bench --bench pipeline`; the frequency and graph benches cover scoring.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message;
use spanguard_processor::assembly::Assembler;
use spanguard_processor::enrich::{enrich, window_attributes};
use spanguard_processor::frequency::sequence::{SequenceExtractor, Siblings, Vocabulary};
use spanguard_processor::{Appended, SpanRecord, Trace, Window};
use spanguard_receiver::{decode_request, Encoding};
use spanguard_testkit::bench::shape::{Shape, Template};

/// The binary's allocator, so the numbers are the pipeline's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn assemble(records: Vec<SpanRecord>) -> Vec<Trace> {
    let mut asm = Assembler::new(Duration::from_secs(1), 100_000, 1_000_000);
    let mut out = Vec::new();
    let now = Instant::now();
    let mut done = |t: Trace, _| out.push(t);
    for r in records {
        asm.add(*r.trace_id(), r, now, &mut done);
    }
    asm.drain(&mut done);
    out
}

fn bench(c: &mut Criterion) {
    let dataset = Path::new(env!("CARGO_MANIFEST_DIR")).join("datasets/onlineboutique.otlp.jsonl.gz");
    let shape = Shape {
        traces: 64,
        spans: 8,
        attributes: 10,
    };
    let template = Template::from_dataset(&dataset, shape).expect("the dataset");
    let bytes = template.request(1, 1_800_000_000_000_000_000);
    let records = decode_request(bytes.clone(), Encoding::Protobuf).expect("valid");
    let mut group = c.benchmark_group("pipeline (per 512-span request)");
    group.throughput(Throughput::Elements(template.spans as u64));

    group.bench_function("decode (scan into records)", |b| {
        b.iter(|| decode_request(std::hint::black_box(bytes.clone()), Encoding::Protobuf).expect("valid"))
    });
    group.bench_function("prost decode (for comparison)", |b| {
        b.iter(|| spanguard_receiver::Request::decode(std::hint::black_box(&bytes[..])).expect("valid"))
    });
    group.bench_function("assemble", |b| {
        b.iter_batched(|| records.clone(), assemble, BatchSize::LargeInput)
    });
    let traces = assemble(records.clone());
    for (name, siblings) in [
        ("call sequences", Siblings::Time),
        ("call sequences, concurrent calls ordered", Siblings::Concurrent),
    ] {
        group.bench_function(name, |b| {
            let mut vocab = Vocabulary::with_siblings(siblings);
            let mut ex = SequenceExtractor::new();
            b.iter(|| {
                for t in &traces {
                    std::hint::black_box(ex.sequence(t, &mut vocab));
                }
            })
        });
    }
    group.bench_function("enrich", |b| {
        b.iter_batched(
            || Window::new("bench-1", 1, traces.clone(), false),
            |w| {
                let own = window_attributes(&w, &[]);
                let attrs = Arc::new(Appended::new(&own));
                enrich(w, &[], &own, &attrs)
            },
            BatchSize::LargeInput,
        )
    });
    let enriched = {
        let w = Window::new("bench-1", 1, traces.clone(), false);
        let own = window_attributes(&w, &[]);
        let attrs = Arc::new(Appended::new(&own));
        enrich(w, &[], &own, &attrs)
    };
    group.bench_function("encode (protobuf)", |b| {
        b.iter(|| spanguard_otlp::encode_request(std::hint::black_box(&enriched)))
    });
    group.finish();
}
criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
