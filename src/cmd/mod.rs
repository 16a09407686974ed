//! One module per command family: argument structs and the glue that runs them.

pub mod bench;
pub mod demo;
pub mod frequency;
pub mod generate;
pub mod graph;
pub mod inspect;
pub mod loadgen;
pub mod output;
pub mod probe;
pub mod stream;
