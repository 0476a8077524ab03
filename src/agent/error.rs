//! What the agent can fail with, as opposed to an update that fails (a failed update is an
//! `Outcome::Failed` recorded for `status` and retried): the root, its record or its disk
//! cannot be worked on, the reboot cannot be set up or run, the control socket cannot be
//! used, or a bug in the agent. Each message is the one the agent always printed, naming
//! the file, setting, command or socket to look at.

use std::path::PathBuf;

use super::state::{BadTransition, Status};

/// A failure of the agent itself.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The machine's settings or identity cannot be read.
    #[error(transparent)]
    Machine(#[from] crate::machine::Error),
    /// A transition from a state it may not come from (a bug).
    #[error(transparent)]
    Bug(#[from] BadTransition),
    /// A path that leaves the root.
    #[error(transparent)]
    Root(#[from] crate::root::RootError),
    /// The disk or its slots cannot be read or written.
    #[error(transparent)]
    Slots(#[from] crate::slots::SlotsError),
    /// A directory the agent needs cannot be made.
    #[error("cannot create {}: {source}", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The agent's lock file cannot be opened.
    #[error("cannot open {}: {source}", path.display())]
    OpenLock {
        /// The lock file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The agent's record exists but cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    ReadRecord {
        /// The record file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The record cannot be encoded (a bug).
    #[error("internal error (a bug in kindling): {0}")]
    EncodeRecord(serde_json::Error),
    /// The record cannot be written.
    #[error(transparent)]
    WriteRecord(crate::apply::ApplyError),
    /// update_engine's D-Bus name is owned by another program (the agent does not run
    /// beside another updater); other bus failures are logged, never fatal.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    /// The reboot manager's bus or update_engine.
    #[error(transparent)]
    RebootManager(Box<ManagerError>),
    /// Another agent holds the root.
    #[error("another kindling agent is working on {}", root.display())]
    Busy {
        /// The root.
        root: PathBuf,
    },
    /// Another agent holds the root but does not answer on its socket.
    #[error("another agent holds {} but does not answer on its socket", root.display())]
    Silent {
        /// The root.
        root: PathBuf,
    },
    /// Another agent holds the root but does not answer a reset.
    #[error("another agent holds the root but does not answer")]
    SilentOnReset,
    /// The kernel command line does not name the booted slot.
    #[error(
        "the kernel command line ({cmdline}) names no mount.usr=PARTUUID=/usr=PARTUUID=: cannot tell the booted slot"
    )]
    NoBootedSlot {
        /// The command line read.
        cmdline: String,
    },
    /// A cycle found the record in a state it cannot start from (a bug).
    #[error("internal error (a bug in kindling): a cycle cannot start in {0:?}")]
    CycleCannotStart(Status),
    /// An install without an offer (a bug).
    #[error("internal error (a bug in kindling): no offer to install")]
    NoOffer,
    /// The disk's passive slot is the booted one (a bug).
    #[error("internal error (a bug in kindling): the passive slot of {0} is itself")]
    PassiveIsBooted(String),
    /// No reboot command is known for a root that is not the running system.
    #[error(
        "{} is not the running system: pass --reboot-command to say what a reboot is",
        root.display()
    )]
    NoRebootCommand {
        /// The root.
        root: PathBuf,
    },
    /// The reboot command cannot be started.
    #[error("cannot run the reboot command `{command}`: {source}")]
    RebootCommandCannotRun {
        /// The command.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// The reboot command failed.
    #[error("the reboot command `{command}` failed ({status})")]
    RebootCommandFailed {
        /// The command.
        command: String,
        /// How it ended.
        status: std::process::ExitStatus,
    },
    /// The reboot window or the node's time zone cannot be used.
    #[error(transparent)]
    Window(#[from] crate::reboot::WindowError),
    /// The reboot lock's settings cannot be used, or the lock refuses for good.
    #[error(transparent)]
    LockSettings(crate::lock::LockError),
    /// The reboot lock cannot work (not a passing problem).
    #[error("the reboot lock cannot work: {0}")]
    LockCannotWork(crate::lock::LockError),
    /// The node's record of a reboot slot held across the reboot cannot be read or written.
    #[error("the reboot slot's record: {0}")]
    HeldSlot(crate::lock::HeldSlotError),
    /// `KINDLING_LOCK_LEASE_TTL` cannot be used.
    #[error(transparent)]
    LeaseTtl(#[from] LeaseTtlError),
    /// The fleet settings of update.conf cannot be used.
    #[error(transparent)]
    FleetSettings(crate::fleet::join::JoinError),
    /// The running agent answered something else than `ok`.
    #[error("the agent answered {0:?}")]
    StrangeAnswer(String),
    /// The running agent's socket failed mid-exchange.
    #[error("cannot talk to the agent at {}: {source}", socket.display())]
    Socket {
        /// The socket.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The running agent did not answer in time.
    #[error("the agent at {} did not answer in 10 s", socket.display())]
    NoAnswer {
        /// The socket.
        socket: PathBuf,
    },
    /// The control socket cannot be made.
    #[error("cannot listen on {}: {source}", socket.display())]
    Listen {
        /// The socket.
        socket: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Why `KINDLING_LOCK_LEASE_TTL` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeaseTtlError {
    /// `infinity`.
    #[error(
        "KINDLING_LOCK_LEASE_TTL={0:?}: a lease never expires only by not having one; give a finite time span such as 15min"
    )]
    Infinite(String),
    /// Under a second.
    #[error(
        "KINDLING_LOCK_LEASE_TTL={0:?} is shorter than a second: give a time span such as 15min (it must outlast a reboot and the health check)"
    )]
    TooShort(String),
    /// Not a time span.
    #[error(
        "KINDLING_LOCK_LEASE_TTL={text:?} is not a time span ({reason}): give e.g. 900 or 15min"
    )]
    NotASpan {
        /// The value given.
        text: String,
        /// Why it is not one.
        reason: crate::units::values::TimespanError,
    },
}

/// What the reboot manager fails with, besides the agent's own failures.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// The bus cannot be used.
    #[error(transparent)]
    Bus(#[from] crate::bus::BusError),
    /// Nobody owns `com.coreos.update1` after the wait.
    #[error(
        "update_engine is not on {bus} (waited {waited}s for com.coreos.update1): {source}; is update-engine.service running?"
    )]
    NoUpdateEngine {
        /// The bus.
        bus: String,
        /// Seconds waited.
        waited: u64,
        /// The last answer.
        source: crate::bus::BusError,
    },
    /// The bus connection ended.
    #[error("the connection to {0} closed")]
    Closed(String),
}

impl From<ManagerError> for Error {
    fn from(e: ManagerError) -> Error {
        Error::RebootManager(Box::new(e))
    }
}
