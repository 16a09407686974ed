//! The pass-through's hot paths, per request of 512 spans (64 traces × 8 spans, 10 attributes, OnlineBoutique
//! shapes — the same load as `spanguard bench`): decode, split into records and assemble into traces, extract the
//! call sequences, enrich with window attributes, regroup, encode. Where a hop spends its CPU shows here first.
//! `cargo bench --bench pipeline`; the frequency and graph benches cover scoring.

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use prost::Message;
use spanguard::bench::shape::{Shape, Template};
use spanguard_processor::assembly::Assembler;
use spanguard_processor::enrich::{enrich, window_attributes};
use spanguard_processor::frequency::sequence::{SequenceExtractor, Vocabulary};
use spanguard_processor::record::split_request;
use spanguard_processor::regroup::regroup;
use spanguard_processor::trace::trace_id_of;
use spanguard_processor::{Trace, Window};
use spanguard_receiver::{decode_request, Encoding};

/// The binary's allocator, so the numbers are the pipeline's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn traces_of(template: &Template) -> Vec<Trace> {
    let mut asm = Assembler::new(Duration::from_secs(1), 100_000, 1_000_000);
    let mut out = Vec::new();
    let now = Instant::now();
    let mut done = |t: Trace, _| out.push(t);
    split_request(template.request.clone(), |r| {
        if let Some(id) = trace_id_of(&r.span.trace_id) {
            asm.add(id, r, now, &mut done);
        }
    });
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
    let mut group = c.benchmark_group("pipeline (per 512-span request)");
    group.throughput(Throughput::Elements(template.spans as u64));

    group.bench_function("decode (protobuf)", |b| {
        b.iter(|| decode_request(std::hint::black_box(&bytes), Encoding::Protobuf).expect("valid"))
    });
    group.bench_function("split + assemble", |b| {
        b.iter_batched(
            || template.request.clone(),
            |req| {
                let mut asm = Assembler::new(Duration::from_secs(1), 100_000, 1_000_000);
                let now = Instant::now();
                let mut n = 0usize;
                let mut done = |t: Trace, _| n += t.spans.len();
                split_request(req, |r| {
                    if let Some(id) = trace_id_of(&r.span.trace_id) {
                        asm.add(id, r, now, &mut done);
                    }
                });
                asm.drain(&mut done);
                n
            },
            BatchSize::LargeInput,
        )
    });
    let traces = traces_of(&template);
    group.bench_function("call sequences", |b| {
        let mut vocab = Vocabulary::new();
        let mut ex = SequenceExtractor::new();
        b.iter(|| {
            for t in &traces {
                std::hint::black_box(ex.sequence(t, &mut vocab));
            }
        })
    });
    group.bench_function("enrich + regroup", |b| {
        b.iter_batched(
            || Window::new("bench-1", 1, traces.clone(), false),
            |w| {
                let attrs = window_attributes(&w, &[]);
                regroup(enrich(w, &[], &attrs))
            },
            BatchSize::LargeInput,
        )
    });
    let enriched = {
        let w = Window::new("bench-1", 1, traces.clone(), false);
        let attrs = window_attributes(&w, &[]);
        regroup(enrich(w, &[], &attrs))
    };
    group.bench_function("encode (protobuf)", |b| {
        b.iter(|| std::hint::black_box(&enriched).encode_to_vec())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3));
    targets = bench
}
criterion_main!(benches);
