//! Why an apply or a rollback stopped: one error for the applier, whose messages name the
//! path, command or root at fault (the command line prints them as they are).

use std::path::Path;

use crate::root::RootError;

/// Why an apply stopped.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    /// A path problem (outside the root, a loop, a file where a directory is needed).
    #[error(transparent)]
    Root(#[from] RootError),
    /// A directory stands where a file is planned.
    #[error("{0}: a directory is there; kindling does not replace a directory with a file")]
    Directory(String),
    /// The file system refused.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// systemctl failed.
    #[error("{command}: {message}")]
    Command {
        /// What ran.
        command: String,
        /// What it said.
        message: String,
    },
    /// No generation to roll back to.
    #[error("no generation to roll back to under {0}")]
    NoGeneration(String),
    /// Another apply or rollback holds the root.
    #[error("another kindling apply or rollback is running on {0}")]
    Busy(String),
}

/// The [`ApplyError::Io`] of a failure at `path`, for `map_err`.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ApplyError + '_ {
    move |source| ApplyError::Io {
        path: path.display().to_string(),
        source,
    }
}
