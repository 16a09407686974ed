//! Frequency detector hot path: sequence extraction + window scoring, per trace.
//! Targets: under 1 µs per trace amortized on one core for traces of ≤ 20 spans (issue 3, the paper's method);
//! at most 2 µs with the evidence method (issue 13).

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use spanguard_processor::frequency::baseline::Statistic;
use spanguard_processor::frequency::drift::Adaptation;
use spanguard_processor::frequency::{train, FrequencyDetector, TrainOptions};
use spanguard_processor::offline::assemble;
use spanguard_testkit::workload::rng::Rng;
use spanguard_testkit::workload::socialnet::{paper_sets, Kind, SocialNetwork};

fn bench(c: &mut Criterion) {
    let sets = paper_sets(0);
    let (normal, _) = assemble(sets.normal);
    let (validation, _) = assemble(sets.validation);
    let mut rng = Rng::new(9);
    let (traffic, _) = assemble(SocialNetwork::default().dataset(
        &[
            (Kind::ComposePost, 3815),
            (Kind::CorrectLogin, 1050),
            (Kind::IncorrectLogin, 135),
        ],
        &mut rng,
        0,
    ));
    let spans: usize = traffic.iter().map(|t| t.spans.len()).sum();
    let max = traffic.iter().map(|t| t.spans.len()).max().unwrap_or(0);
    eprintln!(
        "{} traces, {:.1} spans per trace on average, at most {max}",
        traffic.len(),
        spans as f64 / traffic.len() as f64
    );

    let mut group = c.benchmark_group("frequency");
    group.throughput(Throughput::Elements(traffic.len() as u64));
    for (name, opts) in [
        ("evidence (default)", TrainOptions::evidence()),
        ("paper (eq. 3, fixed baseline)", TrainOptions::default()),
        (
            "chi + drift handling",
            TrainOptions {
                statistic: Statistic::Chi { min_frequency: 0.01 },
                adaptation: Adaptation::recommended(),
                ..TrainOptions::default()
            },
        ),
    ] {
        let model = train(&normal, &validation, &opts).unwrap();
        // Cold: 5000 distinct traces (~30 MB with their strings) stream through the cache.
        group.bench_function(format!("{name}, cold"), |b| {
            b.iter_batched_ref(
                || FrequencyDetector::new(&model),
                |det| {
                    for w in traffic.chunks(50) {
                        std::hint::black_box(det.evaluate(w));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        // Warm: as in the pipeline, where a window is scored right after it was assembled (~300 KB).
        let window = &traffic[..500];
        group.throughput(Throughput::Elements(window.len() as u64));
        group.bench_function(format!("{name}, warm"), |b| {
            b.iter_batched_ref(
                || FrequencyDetector::new(&model),
                |det| {
                    for w in window.chunks(50) {
                        std::hint::black_box(det.evaluate(w));
                    }
                },
                BatchSize::LargeInput,
            )
        });
        group.throughput(Throughput::Elements(traffic.len() as u64));
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
