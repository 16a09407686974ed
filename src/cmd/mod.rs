//! One module per command family: argument structs and the glue that runs them.

pub mod frequency;
pub mod generate;
pub mod graph;
pub mod probe;
