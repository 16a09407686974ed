//! The benchmark's parts that are not spanguard: the sender, its request template, latency accounting, and
//! spanguard itself as a child process measured from `/proc`.

pub mod child;
pub mod generator;
pub mod latency;
pub mod run;
pub mod shape;
