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

use crate::update_server::signature::SignatureError;
use crate::update_server::{DirectoryError, PublishError, ServeError};

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
    /// A root cannot be opened (status 2).
    #[error(transparent)]
    Root(#[from] crate::root::RootError),
    /// An input cannot be read (status 2).
    #[error(transparent)]
    Load(#[from] crate::source::LoadError),
    /// A compiled tree cannot be written (status 2).
    #[error(transparent)]
    Tree(#[from] crate::emit::tree::TreeError),
    /// Comparing with, applying to or rolling back a root failed (status 2).
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
    /// A failure shown behind a prefix of its command's own instead of `kindling: `
    /// (`kindling update-server: `, `kindling lock serve: `, none for locksmithctl's words).
    #[error("{error}")]
    Prefixed {
        /// What stands before the message.
        prefix: &'static str,
        /// The failure.
        error: Box<CliError>,
    },
    /// A reboot lock operation failed, worded as locksmithctl words it (no prefix).
    #[error(transparent)]
    Lock(#[from] crate::lock::OperatorError),
    /// The FleetLock server failed.
    #[error(transparent)]
    LockServer(crate::lock::LockError),
    /// The update server's directory cannot be read or written.
    #[error(transparent)]
    UpdateServerDirectory(#[from] crate::update_server::DirectoryError),
    /// `update-server publish` refused a release.
    #[error(transparent)]
    Publish(#[from] crate::update_server::PublishError),
    /// The update server could not run.
    #[error(transparent)]
    UpdateServer(#[from] crate::update_server::ServeError),
    /// The fleet in etcd: a request its rules refuse (status 1), or etcd (status 2).
    #[error(transparent)]
    Fleet(#[from] crate::fleet::Error),
    /// The update agent failed (status 2), said as the agent says its lines
    /// (`kindling agent: `).
    #[error(transparent)]
    Agent(#[from] crate::agent::Error),
    /// Reading or changing the A/B slots failed.
    #[error(transparent)]
    Slots(#[from] crate::slots::SlotsError),
    /// Getting or verifying a payload failed; the message names its kind and retry class.
    #[error("{} [{}, retry: {:?}]", .0, .0.kind(), .0.retry())]
    Payload(#[from] crate::payload::PayloadError),
    /// A boot-time datasource run stopped before its plan: status 1 when the node's sources
    /// or data are at fault, 2 for the command line or the machine.
    #[error(transparent)]
    Datasource(#[from] crate::datasource::boot::Error),
}

impl CliError {
    /// The exit status for this error: the one place that decides it.
    #[must_use]
    pub fn status(&self) -> Status {
        match self {
            CliError::Shown(status) => *status,
            CliError::Usage(_)
            | CliError::Root(_)
            | CliError::Load(_)
            | CliError::Tree(_)
            | CliError::Apply(_) => Status::Usage,
            CliError::Failed(_) => Status::Failed,
            CliError::Prefixed { error, .. } => error.status(),
            CliError::Lock(_) | CliError::LockServer(_) => Status::Failed,
            CliError::UpdateServerDirectory(e)
            | CliError::Publish(PublishError::Directory(e))
            | CliError::UpdateServer(ServeError::Directory(e)) => directory_status(e),
            CliError::Publish(
                PublishError::Payload { .. } | PublishError::Signature(SignatureError::Io { .. }),
            )
            | CliError::UpdateServer(_) => Status::Usage,
            CliError::Publish(_) => Status::Failed,
            CliError::Fleet(e) if e.is_refusal() => Status::Failed,
            CliError::Fleet(_) => Status::Usage,
            CliError::Agent(_) => Status::Usage,
            CliError::Slots(e) => slots_status(e),
            CliError::Payload(e) => payload_status(e),
            CliError::Datasource(e) if e.is_data() => Status::Failed,
            CliError::Datasource(_) => Status::Usage,
        }
    }

    /// The same failure shown behind `prefix` instead of `kindling: ` (one already shown
    /// stays as it is).
    #[must_use]
    pub fn prefixed(self, prefix: &'static str) -> CliError {
        if matches!(self, CliError::Shown(_)) {
            return self;
        }
        CliError::Prefixed {
            prefix,
            error: Box::new(self),
        }
    }

    /// What stands before the message on standard error.
    fn prefix(&self) -> &'static str {
        match self {
            CliError::Prefixed { prefix, .. } => prefix,
            CliError::Lock(_) => "",
            CliError::Agent(_) => "kindling agent: ",
            _ => "kindling: ",
        }
    }
}

/// A corrupt update-server file is the input's fault (1); one that cannot be read or
/// written is an I/O problem (2).
fn directory_status(error: &DirectoryError) -> Status {
    match error {
        DirectoryError::Corrupt { .. } => Status::Failed,
        DirectoryError::Io { .. } => Status::Usage,
    }
}

/// I/O and usage problems are 2; a disk in a bad state or a bad input is 1.
fn slots_status(e: &crate::slots::SlotsError) -> Status {
    use crate::slots::SlotsError as E;
    match e {
        E::Io { .. } | E::Init { .. } => Status::Usage,
        _ => Status::Failed,
    }
}

/// Network problems (those retried by resuming) and problems of the local disk or of the
/// client's setup are 2; a bad offer, payload, signature or key is 1.
fn payload_status(e: &crate::payload::PayloadError) -> Status {
    let kind = e.kind();
    if e.retry() == crate::payload::Retry::Resume || kind.starts_with("region-") || kind == "client"
    {
        Status::Usage
    } else {
        Status::Failed
    }
}

/// A command's result as the process's exit status: the error's message (if it was not
/// shown already) on standard error behind `kindling: ` (or the prefix of its command's own,
/// see [`CliError::Prefixed`]), then its status.
#[must_use]
pub fn finish(result: Result<ExitCode, CliError>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(err) => {
            show(&err);
            err.status().into()
        }
    }
}

/// Print the error's message behind `kindling: ` (nothing for [`CliError::Shown`]), for a
/// command that reports a failure and goes on (`validate` with one unreadable file of many).
pub fn show(err: &CliError) {
    if !matches!(err, CliError::Shown(_)) {
        eprintln!("{}{err}", err.prefix());
    }
}
