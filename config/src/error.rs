use std::path::PathBuf;

/// A configuration problem, rendered as one line that names the place at fault and what is expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// `${env:NAME}` named a variable that is not set.
    #[error("config line {line}: environment variable {name} is not set; export it or write ${{env:{name}:-default}}")]
    MissingEnv { name: String, line: usize },
    /// The YAML itself does not parse.
    #[error("config is not valid YAML: {0}")]
    Yaml(String),
    /// A key has a bad value, or is unknown.
    #[error("config key {path}: {message}")]
    Key { path: String, message: String },
}

impl ConfigError {
    pub(crate) fn key(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Key {
            path: path.into(),
            message: message.into(),
        }
    }
}
