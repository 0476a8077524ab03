//! What reading the machine can fail with: a file of the root that cannot be read or is
//! missing, a setting that cannot be understood (with its key and the file that set it),
//! and why a health check's step could not give an answer. Every message names the file,
//! key or command the user has to look at.

use std::fmt;
use std::path::PathBuf;

use crate::root::RootError;

/// Which file set a key, as a message suffix: ` (in /etc/coreos/update.conf)`, or nothing
/// when the key was not read from a file.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct InFile(pub Option<String>);

impl fmt::Display for InFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Some(file) => write!(f, " (in {file})"),
            None => Ok(()),
        }
    }
}

/// Why the machine's settings, identity or health could not be read.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the root exists but cannot be read.
    #[error("cannot read {path}: {source}")]
    Unreadable {
        /// The path in the root.
        path: String,
        /// Why.
        source: RootError,
    },
    /// A file every node has is missing in the root.
    #[error(
        "{path} is missing in {} (a node has it; a simulated node's root must too)",
        root.display()
    )]
    Missing {
        /// The path in the root.
        path: String,
        /// The root.
        root: PathBuf,
    },
    /// `REBOOT_STRATEGY` names no strategy.
    #[error(
        "REBOOT_STRATEGY={name} is not a strategy; use reboot, off, etcd-lock, best-effort or fleet-lock{origin}"
    )]
    UnknownStrategy {
        /// The value given.
        name: String,
        /// The file that set it.
        origin: InFile,
    },
    /// A timing key's value is not a time span.
    #[error("{key}={value}{origin} is not a time span (seconds, or e.g. 10min, 1h)")]
    NotATimeSpan {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// The file that set it.
        origin: InFile,
    },
    /// The check interval is zero.
    #[error("{key}{origin} must be more than 0")]
    ZeroInterval {
        /// The key.
        key: &'static str,
        /// The file that set it.
        origin: InFile,
    },
    /// A reboot hook's command or timeout cannot be used.
    #[error("{key}={value}{origin} cannot be used: {why}")]
    BadHook {
        /// The key.
        key: &'static str,
        /// The value given.
        value: String,
        /// Why.
        why: String,
        /// The file that set it.
        origin: InFile,
    },
    /// A program of the health check could not be started.
    #[error("cannot run {program}: {source}")]
    CannotRun {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// The health command could not be started.
    #[error("cannot run the health command `{command}`: {source}")]
    HealthCommandCannotRun {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The health command failed.
    #[error("the health command `{command}` exited {code}")]
    HealthCommandExited {
        /// The command.
        command: String,
        /// Its exit status.
        code: i32,
    },
    /// The health command was killed.
    #[error("the health command `{command}` was killed by a signal")]
    HealthCommandKilled {
        /// The command.
        command: String,
    },
    /// A health check step ran out of time (and was killed).
    #[error("`{what}` took longer than {secs}s")]
    TookTooLong {
        /// The command line.
        what: String,
        /// The time it had.
        secs: u64,
    },
    /// Waiting for a health check step failed.
    #[error("cannot wait for `{what}`: {source}")]
    CannotWait {
        /// The command line.
        what: String,
        /// Why.
        source: std::io::Error,
    },
}
