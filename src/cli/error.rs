//! The one place where a command's failure becomes what the user sees: a line on standard
//! error and an exit status. Commands return `Result<ExitCode, CliError>` (or
//! `Result<T, CliError>` from their helpers); domain modules return their own error enums,
//! which come in here through `From`, and [`CliError::status`] alone decides the exit
//! status: 1 for a failed check, update or payload (the input or the node is at fault), 2
//! for usage and I/O problems (the command could not do its job).
//!
//! Messages are the domain errors' own `Display`, printed once by [`finish`] behind the
//! `kindling: ` prefix. Where the command already showed what went wrong (findings, a
//! report), it returns [`CliError::Shown`] with the status, and nothing more is printed.

use std::process::ExitCode;

/// An exit status other than success.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// 1: the input has errors, or an update, a payload or a check failed.
    Failed,
    /// 2: usage or I/O problems.
    Usage,
}

impl Status {
    /// The process exit status.
    #[must_use]
    pub fn code(self) -> u8 {
        match self {
            Status::Failed => 1,
            Status::Usage => 2,
        }
    }
}

impl From<Status> for ExitCode {
    fn from(status: Status) -> ExitCode {
        ExitCode::from(status.code())
    }
}

/// What a command can fail with. Each area of the command line adds the error enums of the
/// domain modules it calls as variants here (`#[error(transparent)] X(#[from] crate::x::Error)`)
/// and their status in [`CliError::status`].
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// What went wrong was already shown (findings, a report, a message): only the status is left.
    #[error("")]
    Shown(Status),
    /// A problem running the command, worded for the user (usage or I/O: status 2).
    #[error("{0}")]
    Usage(String),
    /// A failure worded for the user whose status is 1 (a failed check, update or payload).
    #[error("{0}")]
    Failed(String),
    /// A boot-time datasource run stopped before its plan: status 1 when the node's sources
    /// or data are at fault, 2 for the command line or the machine.
    #[error(transparent)]
    Datasource(#[from] crate::datasource::boot::Error),
    /// An apply, diff or rollback of a root failed (status 2).
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
}

impl CliError {
    /// The exit status for this error: the one place that decides it.
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            CliError::Shown(status) => *status,
            CliError::Usage(_) => Status::Usage,
            CliError::Failed(_) => Status::Failed,
            CliError::Datasource(e) if e.is_data() => Status::Failed,
            CliError::Datasource(_) | CliError::Apply(_) => Status::Usage,
        }
    }
}

/// A command's result as the process's exit status: the error's message (if it was not
/// shown already) on standard error behind `kindling: `, then its status.
#[must_use]
pub fn finish(result: Result<ExitCode, CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            if !matches!(err, CliError::Shown(_)) {
                eprintln!("kindling: {err}");
            }
            err.status().into()
        }
    }
}
