//! Which bus, and the connection to it. On a real node (root `/`) the system bus; elsewhere
//! only a bus the caller names (a flag) or `DBUS_SYSTEM_BUS_ADDRESS` names, never the
//! machine's system bus by accident: a simulated node (`--root DIR`) with neither gets no
//! bus at all ([`Choice::None`]), so tests can never reach the host's services.

use super::error::BusError;

/// The bus a program should use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Choice {
    /// This address (a flag, or `DBUS_SYSTEM_BUS_ADDRESS`), e.g. `unix:path=/tmp/x/bus`.
    Address(String),
    /// The machine's system bus (`/run/dbus/system_bus_socket`): only on a real node.
    System,
    /// No bus: a simulated node with no address given.
    None,
}

impl Choice {
    /// Decide: `flag` first, then `DBUS_SYSTEM_BUS_ADDRESS` (as godbus and sd-bus read it,
    /// ignored when empty), then the system bus if `real_node` (root `/`), else none.
    #[must_use]
    pub fn decide(flag: Option<&str>, env: Option<&str>, real_node: bool) -> Self {
        if let Some(a) = flag.filter(|a| !a.is_empty()) {
            return Choice::Address(a.to_string());
        }
        if let Some(a) = env.filter(|a| !a.is_empty()) {
            return Choice::Address(a.to_string());
        }
        if real_node {
            Choice::System
        } else {
            Choice::None
        }
    }

    /// [`Choice::decide`] with this process's `DBUS_SYSTEM_BUS_ADDRESS`.
    #[must_use]
    pub fn from_process(flag: Option<&str>, real_node: bool) -> Self {
        let env = std::env::var("DBUS_SYSTEM_BUS_ADDRESS").ok();
        Self::decide(flag, env.as_deref(), real_node)
    }

    /// How to name it in messages.
    #[must_use]
    pub fn describe(&self) -> String {
        match self {
            Choice::Address(a) => a.clone(),
            Choice::System => "the system bus".to_string(),
            Choice::None => "no bus".to_string(),
        }
    }
}

/// Connect to the chosen bus (authenticated, `Hello` done). `Choice::None` is an error the
/// caller normally avoids by not connecting.
pub async fn connect(choice: &Choice) -> Result<zbus::Connection, BusError> {
    let result = match choice {
        // An invalid address is reported by `build`.
        Choice::Address(a) => zbus::connection::Builder::address(a.as_str()).build().await,
        Choice::System => zbus::Connection::system().await,
        Choice::None => return Err(BusError::NoBus),
    };
    result.map_err(|source| BusError::Connect {
        bus: choice.describe(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_simulated_node_never_falls_back_to_the_system_bus() {
        assert_eq!(Choice::decide(None, None, false), Choice::None);
        assert_eq!(Choice::decide(None, Some(""), false), Choice::None);
        assert_eq!(Choice::decide(None, None, true), Choice::System);
        assert_eq!(
            Choice::decide(None, Some("unix:path=/t/bus"), false),
            Choice::Address("unix:path=/t/bus".into())
        );
        assert_eq!(
            Choice::decide(Some("unix:path=/f"), Some("unix:path=/e"), true),
            Choice::Address("unix:path=/f".into())
        );
    }
}
