//! D-Bus: update_engine's interface (`com.coreos.update1`) and logind's reboot, as the
//! programs around a Flatcar updater speak them (locksmithd, the update operator,
//! `update_engine_client`). The exact contract is `../shared/reference/update-engine-dbus.md`.
//!
//! It owns the bus side only: names, the wire shape of a status ([`Status`], `xdssx`),
//! connecting to the right bus, serving the interface from a status the caller publishes,
//! and the client proxies. It knows nothing of the agent's state machine or of reboot
//! strategies; those live above it and hand it plain values.
//!
//! Files: `names` (bus names, paths, interfaces, status strings), `connect` (which bus:
//! a flag, `DBUS_SYSTEM_BUS_ADDRESS`, the system bus only on a real node), `error`, `serve`
//! (the server side: update_engine's interface fed by a [`Publisher`], its requests out as
//! [`Command`]s, and the one `GetStatus` call `update_engine_client -status` makes); the
//! clients `update1` (`GetStatus`, the `StatusUpdate` stream read leniently) and `login1`
//! (`Reboot(false)`). This file only hands their names on.

mod connect;
mod error;
mod login1;
mod names;
mod serve;
mod update1;

pub use connect::{Choice, connect};
pub use error::BusError;
pub use login1::reboot;
pub use serve::{Command, Log, Publisher, Served, serve, status_on};
pub use update1::{Heard, StatusUpdates, get_status, is_missing_service, read_signal};

pub use names::{
    LOGIN1_INTERFACE, LOGIN1_NAME, LOGIN1_PATH, POLICY, POLICY_PATH, STATUS_SIGNAL, Status,
    UPDATE1_INTERFACE, UPDATE1_NAME, UPDATE1_PATH, status,
};
