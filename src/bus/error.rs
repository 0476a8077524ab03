//! What can go wrong on the bus.

/// A D-Bus failure.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// No bus was named and this is not a real node.
    #[error(
        "no D-Bus to use: not a real node (root is not /) and neither --bus nor DBUS_SYSTEM_BUS_ADDRESS names one"
    )]
    NoBus,
    /// The connection (socket, authentication or `Hello`) failed.
    #[error("cannot connect to D-Bus at {bus}: {source}")]
    Connect {
        bus: String,
        #[source]
        source: zbus::Error,
    },
    /// The well-known name is owned by another program on this bus.
    #[error(
        "{name} is already owned on {bus}: another updater (update_engine, or a second agent) serves it; stop it or use another bus"
    )]
    NameTaken { name: String, bus: String },
    /// A call, a name request or a signal failed.
    #[error("D-Bus {what}: {source}")]
    Call {
        what: String,
        #[source]
        source: zbus::Error,
    },
    /// A reply that is not of the shape the interface promises.
    #[error("D-Bus {what}: {why}")]
    Reply { what: String, why: String },
}
