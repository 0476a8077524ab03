//! logind's reboot, as locksmithd asks for it: `org.freedesktop.login1.Manager.Reboot(false)`
//! on `/org/freedesktop/login1` (no interactive authorization), the reply awaited.

use super::error::BusError;
use super::names::{LOGIN1_INTERFACE, LOGIN1_NAME, LOGIN1_PATH};

/// Ask logind to reboot the machine now.
///
/// # Errors
/// When the call fails (logind is not on the bus, or refused).
pub async fn reboot(conn: &zbus::Connection) -> Result<(), BusError> {
    conn.call_method(
        Some(LOGIN1_NAME),
        LOGIN1_PATH,
        Some(LOGIN1_INTERFACE),
        "Reboot",
        &(false,),
    )
    .await
    .map(|_| ())
    .map_err(|source| BusError::Call {
        what: format!("{LOGIN1_NAME} {LOGIN1_INTERFACE}.Reboot(false)"),
        source,
    })
}
