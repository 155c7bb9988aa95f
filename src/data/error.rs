use std::path::PathBuf;

/// Why a data set could not be read. Every malformed input maps to one of these; the parsers
/// never panic on bad bytes.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A file or directory could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The bytes are not in the expected format.
    #[error("{what}: {detail}")]
    Format {
        /// The file (or "buffer" for in-memory data).
        what: String,
        /// What is wrong, with the expected and actual values.
        detail: String,
    },
    /// The data set is not where it was looked for.
    #[error("{0}")]
    Missing(String),
    /// A download failed.
    #[error("download of {url} failed: {detail}")]
    Download {
        /// The URL.
        url: String,
        /// What went wrong.
        detail: String,
    },
}

impl DataError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn format(what: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::Format {
            what: what.into(),
            detail: detail.into(),
        }
    }

    /// The same error with `what` naming the file it came from.
    pub(crate) fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Self::Format { detail, .. } => Self::Format {
                what: path.display().to_string(),
                detail,
            },
            other => other,
        }
    }
}
