//! The benchmark's parts that are not spanguard: the sender, its request template, latency accounting.

pub mod generator;
pub mod latency;
pub mod shape;
