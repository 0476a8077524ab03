//! The client side of update_engine's interface, as locksmithd speaks it
//! (`update-engine-dbus.md`): `GetStatus` once, and a stream of `StatusUpdate` signals
//! matched on interface and member only (no sender or path filter, as locksmithd).
//!
//! Signals are read leniently, as locksmithd reads them: a body with fewer than five
//! arguments, or other types than `x d s s x` in the first five, is skipped with the reason
//! ([`Heard::Skipped`]); arguments after the fifth are ignored. A `GetStatus` reply of
//! another shape is an error here (locksmithd panics on it).

use futures_core::Stream;

use super::error::BusError;
use super::names::{STATUS_SIGNAL, Status, UPDATE1_INTERFACE, UPDATE1_NAME, UPDATE1_PATH};

/// What one `StatusUpdate` signal said.
#[derive(Debug, Clone, PartialEq)]
pub enum Heard {
    /// A well-formed status.
    Status(Status),
    /// A signal that is not a status; why.
    Skipped(String),
}

/// The subscription to update_engine's `StatusUpdate` signals.
pub struct StatusUpdates {
    stream: zbus::MessageStream,
}

impl StatusUpdates {
    /// Subscribe (`AddMatch` with locksmithd's rule:
    /// `type='signal',interface='com.coreos.update1.Manager',member='StatusUpdate'`).
    ///
    /// # Errors
    /// When the bus refuses the match rule.
    pub async fn subscribe(conn: &zbus::Connection) -> Result<StatusUpdates, BusError> {
        let call = |source| BusError::Call {
            what: format!("AddMatch for {UPDATE1_INTERFACE}.{STATUS_SIGNAL}"),
            source,
        };
        let rule = zbus::MatchRule::builder()
            .msg_type(zbus::message::Type::Signal)
            .interface(UPDATE1_INTERFACE)
            .member(STATUS_SIGNAL)
            .build()
            .map_err(call)?;
        let stream = zbus::MessageStream::for_match_rule(rule, conn, None)
            .await
            .map_err(call)?;
        Ok(StatusUpdates { stream })
    }

    /// The next signal (`None`: the connection closed).
    pub async fn next(&mut self) -> Option<Heard> {
        let stream = &mut self.stream;
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut *stream).poll_next(cx));
        match next.await? {
            Ok(message) => Some(read_signal(&message)),
            // A message zbus could not read at all: say so, keep listening.
            Err(e) => Some(Heard::Skipped(format!("unreadable message: {e}"))),
        }
    }
}

/// Ask update_engine for its status (`GetStatus`, no arguments).
///
/// # Errors
/// When the call fails (no owner of `com.coreos.update1`, a D-Bus error) or the reply is not
/// `(x d s s x)`.
pub async fn get_status(conn: &zbus::Connection) -> Result<Status, BusError> {
    let what = || format!("{UPDATE1_NAME} {UPDATE1_INTERFACE}.GetStatus");
    let reply = conn
        .call_method(
            Some(UPDATE1_NAME),
            UPDATE1_PATH,
            Some(UPDATE1_INTERFACE),
            "GetStatus",
            &(),
        )
        .await
        .map_err(|source| BusError::Call {
            what: what(),
            source,
        })?;
    match read_body(&reply) {
        Ok(status) => Ok(status),
        Err(why) => Err(BusError::Reply { what: what(), why }),
    }
}

/// Whether a call failed because nobody owns the name (update_engine is not on the bus).
#[must_use]
pub fn is_missing_service(e: &BusError) -> bool {
    let BusError::Call { source, .. } = e else {
        return false;
    };
    matches!(
        source,
        zbus::Error::FDO(e) if matches!(
            **e,
            zbus::fdo::Error::ServiceUnknown(_) | zbus::fdo::Error::NameHasNoOwner(_)
        )
    )
}

/// A `StatusUpdate` signal read as locksmithd reads it.
#[must_use]
pub fn read_signal(message: &zbus::Message) -> Heard {
    match read_body(message) {
        Ok(status) => Heard::Status(status),
        Err(why) => Heard::Skipped(why),
    }
}

/// The first five arguments of a body as a status, or why they are not one.
fn read_body(message: &zbus::Message) -> Result<Status, String> {
    let body = message.body();
    // zbus shows a body of several arguments as one structure, `(xds)`: shown as on the
    // wire, `xds`.
    let whole = body.signature().to_string();
    let signature = match whole.strip_prefix('(').and_then(|s| s.strip_suffix(')')) {
        Some(inner) if inner.len() > 1 => inner.to_string(),
        _ => whole,
    };
    if signature.is_empty() {
        return Err("no arguments (a status has five: x d s s x)".into());
    }
    let fields = body
        .deserialize::<zbus::Structure<'_>>()
        .map_err(|e| format!("arguments {signature:?} could not be read: {e}"))?
        .into_fields();
    if fields.len() < 5 {
        return Err(format!(
            "{} argument(s) {signature:?}; a status has five: x d s s x",
            fields.len()
        ));
    }
    match (&fields[0], &fields[1], &fields[2], &fields[3], &fields[4]) {
        (
            zbus::Variant::I64(last_checked_time),
            zbus::Variant::F64(progress),
            zbus::Variant::Str(operation),
            zbus::Variant::Str(version),
            zbus::Variant::I64(size),
        ) => Ok(Status {
            last_checked_time: *last_checked_time,
            progress: *progress,
            current_operation: operation.to_string(),
            new_version: version.to_string(),
            new_size: *size,
        }),
        _ => Err(format!(
            "arguments {signature:?} are not a status (x d s s x)"
        )),
    }
}
