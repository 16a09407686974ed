//! The frequency detector (Jacob, Qiao, Lee, ICISSP 2021, §4.2): each trace becomes its call sequence; a
//! window's relative-frequency distribution over sequences is compared with a normal baseline by Euclidean
//! distance (eq. 3); the threshold is mean + k·σ of normal validation windows (§4.2.7).
//!
//! Two ways to judge a window ([`model::Method`]):
//!
//! - **evidence** (the default): each sequence's count tested against the reference with the noise a window
//!   really has ([`evidence`], calibrated by [`noise`]), the remainder tested for additivity (attacks add
//!   traffic, workloads re-mix it), never-seen paths explained ([`divergence`]), and a reference that follows
//!   regime changes without learning attacks ([`tracking`], [`regime`]);
//! - **threshold**: the paper's rule, `mean + k·σ` of validation distances ([`threshold`]; `--paper` for eq. 3
//!   exactly), with the earlier chi statistic, slow adaptation ([`drift`]) and CUSUM ([`cusum`]) as options.

pub mod baseline;
pub mod cusum;
mod detector;
pub mod divergence;
pub mod drift;
pub mod eval;
pub mod evidence;
pub mod holdout;
pub mod labels;
pub mod model;
pub mod noise;
pub mod regime;
pub mod report;
mod scorer;
pub mod sequence;
pub mod sequential;
pub mod stats;
pub mod threshold;
pub mod tracking;
pub mod train;
pub mod windows;

pub use detector::{
    FrequencyDetector, FrequencyVerdict, NovelPath, TopSequence, CUSUM, DISTANCE, EVIDENCE, LEVEL, NAME, NOVEL,
    NOVEL_PATHS, REBASELINED, RETURNED, SEQUENCE_FREQUENCY, SHIFT, SUSTAINED, THRESHOLD, TRACE_DIVERGENCE, TRACE_NOVEL,
    TRACE_SURGE,
};
pub use model::FrequencyModel;
pub use scorer::Scorer;
pub use train::{train, TrainOptions};
