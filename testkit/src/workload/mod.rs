//! Workload generators: traces shaped like real applications, for the paper reproduction, tests, the demo and
//! the benchmark. Deterministic for a given seed, with their own small PRNG so that published numbers do not
//! move when a dependency changes its random streams.

pub mod lte;
pub mod rng;
pub mod socialnet;
pub mod spans;
pub mod timeline;
