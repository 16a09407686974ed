//! The graph detector (DistAppGuard, Ghorbani et al., ACSAC 2021): per time interval, the data exchanged
//! between the roles of a distributed application forms a *microservice data exchange graph*; an autoencoder
//! trained on the graphs of normal intervals reconstructs normal graphs well, and an interval it cannot
//! reconstruct is anomalous.

pub mod autoencoder;
pub mod detector;
pub mod feed;
pub mod interval;
pub mod model;
pub mod onnx;
pub mod report;
pub mod roles;
pub mod runtime;
pub mod score;
pub mod train;
