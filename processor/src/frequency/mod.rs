//! The frequency detector (Jacob, Qiao, Lee, ICISSP 2021, §4.2): each trace becomes its call sequence; a
//! window's relative-frequency distribution over sequences is compared with a normal baseline by Euclidean
//! distance (eq. 3); the threshold is mean + k·σ of normal validation windows (§4.2.7).
//!
//! Beyond the paper: an optionally adaptive baseline for drifting traffic ([`baseline`]) and a CUSUM across
//! windows for sustained low-rate attacks ([`cusum`]).

pub mod baseline;
pub mod cusum;
mod detector;
pub mod drift;
pub mod model;
mod scorer;
pub mod sequence;
pub mod train;

pub use detector::{
    FrequencyDetector, FrequencyVerdict, TopSequence, CUSUM, DISTANCE, SEQUENCE_FREQUENCY, SUSTAINED, THRESHOLD,
};
pub use model::FrequencyModel;
pub use scorer::Scorer;
pub use train::{train, TrainOptions};
