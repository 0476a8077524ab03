//! The names on the bus, exactly as update_engine and logind use them
//! (`update-engine-ab-gpt.md` §1, `update-engine-dbus.md`), and the five values of a status.

/// update_engine's well-known bus name.
pub const UPDATE1_NAME: &str = "com.coreos.update1";
/// update_engine's object.
pub const UPDATE1_PATH: &str = "/com/coreos/update1";
/// update_engine's interface (`GetStatus`, `AttemptUpdate`, `ResetStatus`, `StatusUpdate`).
pub const UPDATE1_INTERFACE: &str = "com.coreos.update1.Manager";
/// The signal sent on every status change.
pub const STATUS_SIGNAL: &str = "StatusUpdate";

/// logind's well-known bus name.
pub const LOGIN1_NAME: &str = "org.freedesktop.login1";
/// logind's object.
pub const LOGIN1_PATH: &str = "/org/freedesktop/login1";
/// logind's manager interface (`Reboot(b interactive)`).
pub const LOGIN1_INTERFACE: &str = "org.freedesktop.login1.Manager";

/// update_engine's status strings (`update_attempter.cc`, `UpdateStatusToString`).
pub mod status {
    pub const IDLE: &str = "UPDATE_STATUS_IDLE";
    pub const CHECKING_FOR_UPDATE: &str = "UPDATE_STATUS_CHECKING_FOR_UPDATE";
    pub const UPDATE_AVAILABLE: &str = "UPDATE_STATUS_UPDATE_AVAILABLE";
    pub const DOWNLOADING: &str = "UPDATE_STATUS_DOWNLOADING";
    pub const VERIFYING: &str = "UPDATE_STATUS_VERIFYING";
    pub const FINALIZING: &str = "UPDATE_STATUS_FINALIZING";
    pub const UPDATED_NEED_REBOOT: &str = "UPDATE_STATUS_UPDATED_NEED_REBOOT";
    pub const REPORTING_ERROR_EVENT: &str = "UPDATE_STATUS_REPORTING_ERROR_EVENT";
    pub const ATTEMPTING_ROLLBACK: &str = "UPDATE_STATUS_ATTEMPTING_ROLLBACK";
}

/// One status, as `GetStatus` returns it and `StatusUpdate` carries it: `(x d s s x)`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Status {
    /// Seconds since the epoch of the last update check (0: never).
    pub last_checked_time: i64,
    /// Download progress, 0.0 to 1.0.
    pub progress: f64,
    /// One of the [`status`] strings.
    pub current_operation: String,
    /// The version being installed or staged (`0.0.0` when none).
    pub new_version: String,
    /// Its payload size in bytes.
    pub new_size: i64,
}

/// The system bus policy for `com.coreos.update1` (update_engine's own file, unchanged):
/// root owns the name and calls it, the user `core` calls the Manager's methods.
pub const POLICY: &str = include_str!("com.coreos.update1.conf");

/// Where a package installs [`POLICY`] (the vendor directory dbus-daemon reads, where
/// Flatcar's update_engine installs the same file).
pub const POLICY_PATH: &str = "/usr/share/dbus-1/system.d/com.coreos.update1.conf";
