//! Serving update_engine's interface: `com.coreos.update1` at `/com/coreos/update1`,
//! interface `com.coreos.update1.Manager`, from a status the caller publishes.
//!
//! The caller (the agent) owns the state machine; this file only speaks for it. It gets a
//! [`Publisher`] to hand every status to, and a channel on which the bus's requests come out
//! as [`Command`]s. `GetStatus` answers the last status published, `(x d s s x)` as five out
//! arguments; every published status that differs from the one before is sent as a
//! `StatusUpdate` signal, in order (a queue, so a quick run of transitions loses none).
//! `AttemptUpdate` is handed on only from IDLE (update_engine skips it otherwise) and
//! `ResetStatus` only from UPDATED_NEED_REBOOT (a no-op from IDLE; any other state is a D-Bus
//! error, as update_engine refuses it). A bus that goes away ends the signals with one log
//! line and nothing else: the publisher never fails.

use std::sync::Arc;

use tokio::sync::{mpsc, watch};

use super::connect::{Choice, connect};
use super::error::BusError;
use super::names::{STATUS_SIGNAL, Status, UPDATE1_INTERFACE, UPDATE1_NAME, UPDATE1_PATH, status};

/// What the bus asks of the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// `AttemptUpdate`: check for an update now (asked for by a person: interactive).
    AttemptUpdate,
    /// `ResetStatus`: UPDATED_NEED_REBOOT → IDLE.
    ResetStatus,
}

/// A line for the caller's log.
pub type Log = Arc<dyn Fn(&str) + Send + Sync>;

/// Where the agent hands each status. Cheap to clone; never fails (a bus that went away
/// only stops hearing).
#[derive(Clone)]
pub struct Publisher {
    current: Arc<watch::Sender<Status>>,
    signals: mpsc::UnboundedSender<Status>,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("current", &*self.current.borrow())
            .finish_non_exhaustive()
    }
}

impl Publisher {
    /// The new status: answered by `GetStatus` from now on, and signalled when it changed.
    pub fn publish(&self, new: Status) {
        let changed = self.current.send_if_modified(|old| {
            if *old == new {
                return false;
            }
            *old = new.clone();
            true
        });
        if changed {
            let _ = self.signals.send(new);
        }
    }
}

/// The interface object.
struct Manager {
    current: watch::Receiver<Status>,
    commands: mpsc::Sender<Command>,
    log: Log,
}

/// The five values, in the order and types update_engine sends them.
fn wire(s: &Status) -> (i64, f64, String, String, i64) {
    (
        s.last_checked_time,
        s.progress,
        s.current_operation.clone(),
        s.new_version.clone(),
        s.new_size,
    )
}

#[zbus::interface(name = "com.coreos.update1.Manager")]
impl Manager {
    /// `GetStatus() -> (x last_checked_time, d progress, s current_operation, s new_version,
    /// x new_size)`.
    #[zbus(out_args(
        "last_checked_time",
        "progress",
        "current_operation",
        "new_version",
        "new_size"
    ))]
    fn get_status(&self) -> (i64, f64, String, String, i64) {
        wire(&self.current.borrow())
    }

    /// `AttemptUpdate()`: a check now, from IDLE only (update_engine logs and skips it in any
    /// other state, and so does this).
    fn attempt_update(&self) -> zbus::fdo::Result<()> {
        let now = self.current.borrow().current_operation.clone();
        if now != status::IDLE {
            (self.log)(&format!(
                "AttemptUpdate over D-Bus: skipping the update check because the status is {now}"
            ));
            return Ok(());
        }
        (self.log)("AttemptUpdate over D-Bus: checking for an update");
        self.hand_on(Command::AttemptUpdate)
    }

    /// `ResetStatus()`: IDLE is a no-op, UPDATED_NEED_REBOOT goes back to IDLE, any other
    /// state is refused with a D-Bus error.
    fn reset_status(&self) -> zbus::fdo::Result<()> {
        let now = self.current.borrow().current_operation.clone();
        match now.as_str() {
            status::IDLE => Ok(()),
            status::UPDATED_NEED_REBOOT => {
                (self.log)("ResetStatus over D-Bus: unstaging the update");
                self.hand_on(Command::ResetStatus)
            }
            _ => Err(zbus::fdo::Error::Failed(format!(
                "Reset not allowed in this state ({now})"
            ))),
        }
    }

    /// `StatusUpdate(x d s s x)`, sent by [`emit`] (declared here for introspection).
    #[zbus(signal)]
    async fn status_update(
        emitter: &zbus::object_server::SignalEmitter<'_>,
        last_checked_time: i64,
        progress: f64,
        current_operation: &str,
        new_version: &str,
        new_size: i64,
    ) -> zbus::Result<()>;
}

impl Manager {
    fn hand_on(&self, command: Command) -> zbus::fdo::Result<()> {
        self.commands
            .try_send(command)
            .map_err(|e| zbus::fdo::Error::Failed(format!("the agent is busy: {e}")))
    }
}

/// The served interface: keep it alive as long as the agent serves the bus.
pub struct Served {
    /// The connection (the name is released when the last clone is dropped).
    pub connection: zbus::Connection,
    signals: tokio::task::JoinHandle<()>,
}

impl Served {
    /// Wait (at most `limit`) until every status published before the publisher was dropped
    /// was signalled: a short-lived agent's last changes reach the bus.
    pub async fn flush(self, limit: std::time::Duration) {
        let _ = tokio::time::timeout(limit, self.signals).await;
    }
}

/// Serve the interface on the bus `choice` names, starting from `initial`, handing the
/// bus's requests to `commands`.
///
/// # Errors
/// No bus, a failed connection, or `com.coreos.update1` already owned (update_engine, or
/// another agent, serves this bus).
pub async fn serve(
    choice: &Choice,
    initial: Status,
    commands: mpsc::Sender<Command>,
    log: Log,
) -> Result<(Publisher, Served), BusError> {
    let connection = connect(choice).await?;
    let (current, watched) = watch::channel(initial);
    let manager = Manager {
        current: watched,
        commands,
        log: log.clone(),
    };
    let call = |what: &str| {
        let what = what.to_string();
        move |source| BusError::Call { what, source }
    };
    // The object first, so that whoever sees the name can call it at once.
    connection
        .object_server()
        .at(UPDATE1_PATH, manager)
        .await
        .map_err(call("serving /com/coreos/update1"))?;
    let taken = || BusError::NameTaken {
        name: UPDATE1_NAME.to_string(),
        bus: choice.describe(),
    };
    match connection
        .request_name_with_flags(UPDATE1_NAME, zbus::fdo::RequestNameFlags::DO_NOT_QUEUE)
        .await
    {
        Ok(
            zbus::fdo::RequestNameReply::PrimaryOwner | zbus::fdo::RequestNameReply::AlreadyOwner,
        ) => {}
        Ok(_) | Err(zbus::Error::NameTaken) => return Err(taken()),
        Err(e) => return Err(call("requesting the name com.coreos.update1")(e)),
    }
    let (signals_tx, signals_rx) = mpsc::unbounded_channel();
    let signals = tokio::spawn(emit(connection.clone(), signals_rx, log));
    let publisher = Publisher {
        current: Arc::new(current),
        signals: signals_tx,
    };
    Ok((
        publisher,
        Served {
            connection,
            signals,
        },
    ))
}

/// Send each status as `StatusUpdate` until the publisher is gone or the bus fails (said
/// once; the agent goes on without the bus).
async fn emit(connection: zbus::Connection, mut rx: mpsc::UnboundedReceiver<Status>, log: Log) {
    while let Some(s) = rx.recv().await {
        let sent = connection
            .emit_signal(
                None::<&str>,
                UPDATE1_PATH,
                UPDATE1_INTERFACE,
                STATUS_SIGNAL,
                &wire(&s),
            )
            .await;
        if let Err(e) = sent {
            log(&format!(
                "D-Bus: cannot send StatusUpdate ({e}); the bus is no longer told of status changes"
            ));
            return;
        }
    }
}

/// Ask the owner of `com.coreos.update1` on `choice`'s bus for its status (`GetStatus`):
/// what `update_engine_client -status` does, on a connection of its own.
///
/// # Errors
/// No bus, a failed connection, no owner of the name, or a reply that is not `xdssx`.
pub async fn status_on(choice: &Choice) -> Result<Status, BusError> {
    super::update1::get_status(&connect(choice).await?).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idle_like(operation: &str) -> Status {
        Status {
            last_checked_time: 0,
            progress: 0.0,
            current_operation: operation.to_string(),
            new_version: "0.0.0".to_string(),
            new_size: 0,
        }
    }

    fn manager(operation: &str) -> (Manager, mpsc::Receiver<Command>) {
        let (_tx, current) = watch::channel(idle_like(operation));
        let (commands, rx) = mpsc::channel(1);
        let log: Log = Arc::new(|_: &str| {});
        (
            Manager {
                current,
                commands,
                log,
            },
            rx,
        )
    }

    #[test]
    fn reset_status_is_handed_on_only_from_need_reboot_and_refused_while_working() {
        let (m, mut rx) = manager(status::IDLE);
        assert!(m.reset_status().is_ok());
        assert!(rx.try_recv().is_err(), "IDLE: a no-op");
        let (m, mut rx) = manager(status::UPDATED_NEED_REBOOT);
        assert!(m.reset_status().is_ok());
        assert_eq!(rx.try_recv().ok(), Some(Command::ResetStatus));
        let (m, mut rx) = manager(status::DOWNLOADING);
        let e = m.reset_status().unwrap_err().to_string();
        assert!(
            e.contains("Reset not allowed in this state (UPDATE_STATUS_DOWNLOADING)"),
            "{e}"
        );
        assert!(rx.try_recv().is_err());
    }

    #[test]
    fn attempt_update_is_handed_on_only_from_idle() {
        let (m, mut rx) = manager(status::IDLE);
        assert!(m.attempt_update().is_ok());
        assert_eq!(rx.try_recv().ok(), Some(Command::AttemptUpdate));
        let (m, mut rx) = manager(status::UPDATED_NEED_REBOOT);
        assert!(m.attempt_update().is_ok());
        assert!(rx.try_recv().is_err(), "skipped, as update_engine skips it");
    }

    #[test]
    fn a_publisher_signals_only_changes() {
        let (current, _watched) = watch::channel(idle_like(status::IDLE));
        let (signals, mut rx) = mpsc::unbounded_channel();
        let p = Publisher {
            current: Arc::new(current),
            signals,
        };
        let mut s = p.current.borrow().clone();
        p.publish(s.clone());
        assert!(rx.try_recv().is_err(), "the same status again: no signal");
        s.current_operation = status::CHECKING_FOR_UPDATE.to_string();
        p.publish(s.clone());
        s.current_operation = status::IDLE.to_string();
        p.publish(s);
        assert_eq!(
            rx.try_recv().unwrap().current_operation,
            status::CHECKING_FOR_UPDATE
        );
        assert_eq!(rx.try_recv().unwrap().current_operation, status::IDLE);
    }
}
