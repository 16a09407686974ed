//! The workloads' seeded generator is the processor's (its evaluation injects with the same one).

pub use spanguard_processor::rng::Rng;
