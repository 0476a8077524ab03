//! The operator's sequences on the reboot lock, as `kindling lock` and `locksmithctl` run
//! them: finding the holder's id, connecting, taking a slot (waiting by watch or not),
//! holding it until told to stop (and giving it back, retried until it succeeds or is
//! told to stop), giving it back, and rebooting under it (the slot recorded on the node
//! first, for the agent to give back after the next boot).
//!
//! Failures are [`OperatorError`]s worded exactly as locksmithctl words them (`Error
//! locking: semaphore is at 0`), since scripts match on them; an unreachable backend or an
//! unusable configuration reads as locksmithctl's client initialisation error, whatever
//! the operation.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::LockConfig;
use super::api::{Acquired, LockError, RebootLock, Released};
use super::connect::connect;
use super::held::{HeldSlot, HeldSlotError};

/// What the operator asked for, for the message of a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// Building the backend.
    Connect,
    /// Reading the semaphore.
    Status,
    /// Setting the number of slots.
    SetMax,
    /// Taking a slot.
    Lock,
    /// Giving a slot back.
    Unlock,
}

impl Operation {
    /// locksmithctl's prefix for a failure of this operation.
    fn prefix(self) -> &'static str {
        match self {
            Operation::Connect => "Error initializing lock",
            Operation::Status => "Error retrieving status",
            Operation::SetMax => "Error setting value",
            Operation::Lock => "Error locking",
            Operation::Unlock => "Error unlocking",
        }
    }
}

/// Why an operator's command failed, in locksmithctl's words.
#[derive(Debug, thiserror::Error)]
pub enum OperatorError {
    /// The backend refused or could not be reached.
    #[error("{}", failure_text(*.operation, .source))]
    Failed {
        /// What was asked.
        operation: Operation,
        /// The backend's error.
        source: LockError,
    },
    /// The machine id could not be read.
    #[error("Error retrieving machine-id: {}: {reason}", .path.display())]
    MachineId {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        reason: std::io::Error,
    },
    /// The machine id file is empty.
    #[error("Error retrieving machine-id: {} is empty", .0.display())]
    EmptyMachineId(PathBuf),
    /// `set-max` without a value.
    #[error("New maximum value must be set.")]
    MissingMax,
    /// `set-max` with a value that is not a number.
    #[error("Invalid maximum value: {0}")]
    InvalidMax(String),
    /// Unlocking a holder that has no slot.
    #[error("Error unlocking: holder does not exist")]
    NotHeld,
    /// The slot taken for a reboot could not be recorded on the node.
    #[error("Error recording the reboot lock: {source}{}", if *.released { "; the reboot lock was released" } else { "" })]
    Record {
        /// Why.
        source: HeldSlotError,
        /// Whether the slot taken for it was given back.
        released: bool,
    },
    /// `reboot` with `systemctl reboot` by another user than root.
    #[error("Must be root to initiate reboot.")]
    NotRoot,
    /// The reboot command failed.
    #[error("Error rebooting: {command:?} {why}{}", if *.released { "; the reboot lock was released" } else { "" })]
    Reboot {
        /// The command.
        command: String,
        /// How it failed.
        why: String,
        /// Whether the slot taken for it was given back.
        released: bool,
    },
}

impl OperatorError {
    /// A backend failure of `operation`.
    #[must_use]
    pub fn failed(operation: Operation, source: LockError) -> OperatorError {
        OperatorError::Failed { operation, source }
    }
}

/// An unreachable backend reads as locksmithctl's client initialisation error.
fn failure_text(operation: Operation, error: &LockError) -> String {
    match error {
        LockError::Unavailable(why) | LockError::Config(why) => {
            format!("Error initializing etcd client: {why}")
        }
        other => format!("{}: {other}", operation.prefix()),
    }
}

/// The holder: `given`, or the machine id in `root`/etc/machine-id.
///
/// # Errors
/// [`OperatorError::MachineId`] or [`OperatorError::EmptyMachineId`].
pub fn holder_id(given: Option<&str>, root: &Path) -> Result<String, OperatorError> {
    if let Some(id) = given {
        return Ok(id.to_string());
    }
    let path = root.join("etc/machine-id");
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
        Ok(_) => Err(OperatorError::EmptyMachineId(path)),
        Err(reason) => Err(OperatorError::MachineId { path, reason }),
    }
}

/// Build the backend `config` names.
///
/// # Errors
/// [`OperatorError::Failed`] of [`Operation::Connect`].
pub async fn open(config: &LockConfig) -> Result<Box<dyn RebootLock>, OperatorError> {
    connect(config)
        .await
        .map_err(|e| OperatorError::failed(Operation::Connect, e))
}

/// Take a slot for `id`, waiting up to `wait` for one to be free (by watch) when given.
///
/// # Errors
/// [`OperatorError::Failed`] of [`Operation::Lock`].
pub async fn take(
    lock: &dyn RebootLock,
    id: &str,
    wait: Option<Duration>,
) -> Result<Acquired, OperatorError> {
    let result = match wait {
        Some(wait) => lock.wait_lock(id, tokio::time::Instant::now() + wait).await,
        None => lock.lock(id).await,
    };
    result.map_err(|e| OperatorError::failed(Operation::Lock, e))
}

/// The first wait between two attempts at giving a held slot back.
pub const RELEASE_BACKOFF_FIRST: Duration = Duration::from_secs(1);
/// The longest wait between two attempts at giving a held slot back.
pub const RELEASE_BACKOFF_MAX: Duration = Duration::from_secs(30);

/// Keep `id`'s slot until the first message on `stops` (or its end), then give it back,
/// trying again after a passing failure (etcd down, a lost compare-and-swap) with a
/// backoff doubling from [`RELEASE_BACKOFF_FIRST`] to [`RELEASE_BACKOFF_MAX`], until it
/// succeeds or a further message on `stops` says to give up. `retrying` is told each
/// failure and the wait before the next attempt.
///
/// # Errors
/// [`OperatorError::Failed`] of [`Operation::Unlock`]: a failure that is not passing, or
/// the last one when told to stop.
pub async fn hold(
    lock: &dyn RebootLock,
    id: &str,
    stops: &mut tokio::sync::mpsc::UnboundedReceiver<()>,
    mut retrying: impl FnMut(&LockError, Duration),
) -> Result<(), OperatorError> {
    let _ = stops.recv().await;
    let mut backoff = RELEASE_BACKOFF_FIRST;
    loop {
        let error = match lock.unlock(id).await {
            Ok(_) => return Ok(()),
            Err(e) if e.is_transient() => e,
            Err(e) => return Err(OperatorError::failed(Operation::Unlock, e)),
        };
        retrying(&error, backoff);
        tokio::select! {
            () = tokio::time::sleep(backoff) => {}
            _ = stops.recv() => return Err(OperatorError::failed(Operation::Unlock, error)),
        }
        backoff = (backoff * 2).min(RELEASE_BACKOFF_MAX);
    }
}

/// Give `id`'s slot back; not holding one is an error here (locksmithctl's).
///
/// # Errors
/// [`OperatorError::NotHeld`], or [`OperatorError::Failed`] of [`Operation::Unlock`].
pub async fn release(lock: &dyn RebootLock, id: &str) -> Result<(), OperatorError> {
    match lock.unlock(id).await {
        Ok(Released::Unlocked) => Ok(()),
        Ok(Released::NotHeld) => Err(OperatorError::NotHeld),
        Err(e) => Err(OperatorError::failed(Operation::Unlock, e)),
    }
}

/// Whether this process may run `command` to reboot: locksmithctl's `reboot` requires root
/// for `systemctl reboot`.
///
/// # Errors
/// [`OperatorError::NotRoot`].
pub fn may_reboot(command: &str) -> Result<(), OperatorError> {
    if command == "systemctl reboot" && !is_root() {
        return Err(OperatorError::NotRoot);
    }
    Ok(())
}

/// Whether this process runs as root.
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// Take a slot for `id` (waiting up to `wait`), record it on the node (`held`: the
/// record and the root it goes under, written before the command runs, so that the agent
/// gives the slot back after the next boot), record `rebooting`, and run `command` with
/// `sh -c`. When the record cannot be written or the command fails, the node is not
/// rebooting, so a slot taken for it goes back.
///
/// # Errors
/// [`OperatorError::Failed`] of [`Operation::Lock`], [`OperatorError::Record`] or
/// [`OperatorError::Reboot`].
pub async fn reboot(
    lock: &dyn RebootLock,
    id: &str,
    command: &str,
    wait: Option<Duration>,
    held: (&Path, &HeldSlot),
) -> Result<(), OperatorError> {
    let acquired = take(lock, id, wait).await?;
    let (root, slot) = held;
    if let Err(source) = slot.write(root) {
        let released = acquired == Acquired::Locked && lock.unlock(id).await.is_ok();
        return Err(OperatorError::Record { source, released });
    }
    let _ = lock.set_state(id, "rebooting").await;
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .await;
    let why = match status {
        Ok(s) if s.success() => return Ok(()),
        Ok(s) => format!("exited with {s}"),
        Err(e) => e.to_string(),
    };
    let released = acquired == Acquired::Locked && lock.unlock(id).await.is_ok();
    if released {
        let _ = HeldSlot::remove(root);
    }
    Err(OperatorError::Reboot {
        command: command.to_string(),
        why,
        released,
    })
}
