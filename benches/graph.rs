//! Graph detector hot paths. Targets (issue 4): ≥ 1 M events/s through role resolution + graph building on one
//! core; < 1 ms of inference per interval for E ≤ 2000 edges.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use spanguard_processor::graph::autoencoder::{Architecture, Autoencoder};
use spanguard_processor::graph::interval::GraphBuilder;
use spanguard_processor::graph::onnx::export;
use spanguard_processor::graph::runtime::Reconstructor;
use spanguard_testkit::workload::lte::{events, Scenario};

const I: u64 = 5_000_000_000;

fn bench(c: &mut Criterion) {
    let evs = events(Scenario::Normal, 1_700_000_000_000_000_000, 100, I, 1);
    let mut g = c.benchmark_group("graph");
    g.throughput(Throughput::Elements(evs.len() as u64));
    g.bench_function("roles + interval graphs", |b| {
        b.iter(|| {
            let mut builder = GraphBuilder::new(I);
            let mut n = 0usize;
            for e in &evs {
                builder.push(e, &mut |gr| n += gr.edges.len());
            }
            builder.finish(&mut |gr| n += gr.edges.len());
            std::hint::black_box(n)
        })
    });

    // Inference at E = 2000 edges in 100 microservices of 20 edges.
    let e = 2000;
    let groups: Vec<Vec<usize>> = (0..100).map(|g| (g * 20..(g + 1) * 20).collect()).collect();
    let ae = Autoencoder::new(Architecture::for_groups(groups, e), 1);
    let dir = std::env::temp_dir().join(format!("spanguard-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("ae2000.onnx");
    std::fs::write(&path, export(&ae, "bench")).unwrap();
    let row: Vec<f32> = (0..e).map(|i| (i % 17) as f32 / 17.0).collect();
    g.throughput(Throughput::Elements(1));
    match Reconstructor::load(&path, e) {
        Ok(mut r) => {
            g.bench_function("inference, 1 interval, E=2000 (ONNX Runtime)", |b| {
                b.iter(|| std::hint::black_box(r.run(&row, 1).unwrap()))
            });
        }
        Err(err) => eprintln!("skipping the ONNX Runtime inference bench: {err}"),
    }
    g.bench_function("inference, 1 interval, E=2000 (Rust network)", |b| {
        b.iter(|| std::hint::black_box(ae.reconstruct(&row)))
    });
    g.finish();
    let _ = std::fs::remove_dir_all(dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
