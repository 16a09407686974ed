//! Errors of the testkit's fallible parts (reading a dataset for the request template, starting the sender).

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
