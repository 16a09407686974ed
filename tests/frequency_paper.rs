//! Reproduction of Jacob, Qiao, Lee (ICISSP 2021) §4.2 on traces shaped like the paper's DeathStarBench social
//! network, and the measured improvements beyond it.

use spanguard_processor::frequency::baseline::Statistic;
use spanguard_processor::frequency::{train, FrequencyDetector, TrainOptions};
use spanguard_processor::offline::assemble;
use spanguard_testkit::workload::socialnet::paper_sets;

/// Paper, §4.2.7: mean 0.1701, σ 0.0208, threshold 0.2117, attack 0.2171.
const PAPER: (f64, f64, f64, f64) = (0.1701, 0.0208, 0.2117, 0.2171);

struct Outcome {
    mean: f64,
    std: f64,
    threshold: f64,
    attack: f64,
    validation_below: usize,
}

fn run(seed: u64, opts: &TrainOptions) -> Outcome {
    let sets = paper_sets(seed);
    let (normal, _) = assemble(sets.normal);
    let (validation, _) = assemble(sets.validation);
    let (attack, _) = assemble(sets.attack);
    assert_eq!((normal.len(), validation.len(), attack.len()), (2000, 500, 50));
    let model = train(&normal, &validation, opts).unwrap();
    let v = &model.validation;
    let attack = FrequencyDetector::new(&model).evaluate(&attack).distance;
    Outcome {
        mean: v.mean,
        std: v.std,
        threshold: v.threshold,
        attack,
        validation_below: v.distances.iter().filter(|d| **d < v.threshold).count(),
    }
}

#[test]
fn table_1_and_2_reproduce_the_paper() {
    // The paper's method exactly: Euclidean distance (eq. 3), fixed baseline, windows of 50, k = 2.
    let o = run(0, &TrainOptions::default());
    eprintln!(
        "ours: mean {:.4} σ {:.4} threshold {:.4} attack {:.4}; paper: {:?}",
        o.mean, o.std, o.threshold, o.attack, PAPER
    );
    assert_eq!(
        o.validation_below, 10,
        "all ten validation windows fall below the threshold"
    );
    assert!(
        o.attack > o.threshold,
        "the attack window is above it: {:.4} vs {:.4}",
        o.attack,
        o.threshold
    );
    // Same regime as the paper's numbers, not merely the same verdicts.
    assert!((o.mean - PAPER.0).abs() < 0.02, "mean {:.4}", o.mean);
    assert!((o.threshold - PAPER.2).abs() < 0.03, "threshold {:.4}", o.threshold);
}

#[test]
fn the_papers_margin_is_thin_and_chi_widens_it() {
    // Over many generated data sets, how often does the paper's outcome hold (10/10 below, attack above)?
    let euclid = TrainOptions::default();
    let chi = TrainOptions {
        statistic: Statistic::Chi { min_frequency: 0.01 },
        ..TrainOptions::default()
    };
    let seeds = 0..30u64;
    let holds = |opts: &TrainOptions| {
        seeds
            .clone()
            .filter(|s| {
                let o = run(*s, opts);
                o.validation_below == 10 && o.attack > o.threshold
            })
            .count()
    };
    let (e, c) = (holds(&euclid), holds(&chi));
    eprintln!("paper outcome holds in {e}/30 data sets with eq. 3, {c}/30 with chi");
    // Measured (README): about a quarter with eq. 3 — the attack sits at the threshold on average — and
    // over four fifths with chi.
    assert!(e <= 15, "eq. 3 is marginal on this workload: {e}/30");
    assert!(c >= 20 && c >= e + 10, "chi separates the attack: {c}/30 vs {e}/30");
}
