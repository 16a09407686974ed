//! Why the pipeline cannot start. Each variant names the config key to fix; the cause stays its `#[source]`.

use spanguard_ebpf_probe::SourceError;
use spanguard_exporter::ExporterError;
use spanguard_processor::frequency::model::ModelError;
use spanguard_processor::graph::score::LoadError;
use spanguard_receiver::ReceiverError;

/// Why the pipeline (or one of its detectors) cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// `processors.<name>.frequency.model` cannot be used.
    #[error("processors.{processor}.frequency.model")]
    FrequencyModel {
        /// The processor's name in the config.
        processor: String,
        /// Why.
        #[source]
        source: ModelError,
    },
    /// `processors.<name>.graph.model` cannot be loaded into ONNX Runtime.
    #[error("processors.{processor}.graph.model")]
    GraphModel {
        /// The processor's name in the config.
        processor: String,
        /// Why.
        #[source]
        source: LoadError,
    },
    /// `source: file` without `path`.
    #[error("processors.{processor}.graph.events.path: required with source: file (the events file to follow)")]
    EventsPath {
        /// The processor's name in the config.
        processor: String,
    },
    /// The graph detector's event source cannot start.
    #[error("processors.{processor}.graph")]
    EventSource {
        /// The processor's name in the config.
        processor: String,
        /// Why.
        #[source]
        source: SourceError,
    },
    /// An exporter cannot be built.
    #[error(transparent)]
    Exporter(#[from] ExporterError),
    /// A receiver cannot listen.
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    /// The metrics endpoint cannot listen.
    #[error("cannot listen on {address} (service.telemetry.metrics.address): {source}; pick a free address or set it to \"\"")]
    Metrics {
        /// The configured address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
