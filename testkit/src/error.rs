//! Errors of the testkit's fallible parts (reading a dataset for the request template, starting the sender,
//! the demo's embedded pipeline).

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The dataset the request template is built from cannot be read.
    #[error("reading span shapes: {0}")]
    Dataset(#[source] spanguard_receiver::file::TraceFileError),
    /// The dataset or the requested shape cannot make a template.
    #[error("{0}")]
    Shape(String),
    /// The sender's endpoint does not make an exporter config.
    #[error("the benchmark sender's endpoint: {0}")]
    SenderConfig(#[source] serde_yaml::Error),
    /// The sender's gRPC client cannot be built.
    #[error("the benchmark sender: {0}")]
    Client(#[from] spanguard_exporter::ExporterError),
    /// A file or process operation failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The spanguard child process did not start or stop as it should.
    #[error("{0}")]
    Child(String),
    /// Training a frequency model failed.
    #[error("training the frequency model")]
    FrequencyTrain(#[source] spanguard_processor::frequency::train::TrainError),
    /// Writing a frequency model failed.
    #[error("writing the frequency model")]
    FrequencyModel(#[source] spanguard_processor::frequency::model::ModelError),
    /// Training the graph model failed.
    #[error("training the graph model")]
    GraphTrain(#[source] spanguard_processor::graph::train::GraphTrainError),
    /// Writing the graph model failed.
    #[error("writing the graph model")]
    GraphModel(#[source] spanguard_processor::graph::model::GraphModelError),
    /// A benchmark request did not decode (the template is broken).
    #[error("decoding the benchmark's request template")]
    Decode(#[source] prost::DecodeError),
    /// The demo's embedded pipeline did not start.
    #[error("starting the demo's pipeline")]
    Pipeline(#[from] spanguard_pipeline::PipelineError),
    /// The demo's own pipeline config does not load.
    #[error("the demo's pipeline config")]
    Config(#[source] spanguard_config::ConfigError),
    /// The graph detector is not running in the demo's pipeline.
    #[error("the graph detector did not start (is ONNX Runtime installed? run scripts/setup)")]
    GraphDisabled,
    /// The demo's client cannot reach the embedded pipeline.
    #[error("cannot connect to the embedded pipeline")]
    Connect(#[source] tonic::transport::Error),
    /// The embedded pipeline refused the demo's traces.
    #[error("the embedded pipeline refused traces")]
    Refused(#[source] Box<tonic::Status>),
    /// The demo's pipeline stopped reporting its windows.
    #[error("lost the pipeline's window reports")]
    Reports(#[source] tokio::sync::broadcast::error::RecvError),
    /// The demo waited longer than it should for a verdict.
    #[error("{0}")]
    Stalled(String),
    /// The demo's output cannot be read back.
    #[error("reading back {path}")]
    ReadBack {
        /// The output file.
        path: String,
        /// Why.
        #[source]
        source: spanguard_receiver::file::TraceFileError,
    },
    /// Incident spans in the demo's output link to traces it does not hold.
    #[error("{missing} incident link(s) point at traces missing from {path}")]
    BrokenLinks {
        /// Links without their trace.
        missing: usize,
        /// The output file.
        path: String,
    },
    /// A task of the benchmark panicked or was cancelled.
    #[error("a benchmark task failed")]
    Task(#[source] tokio::task::JoinError),
}

impl TestkitError {
    /// An I/O error while doing `what`.
    pub fn io(what: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
