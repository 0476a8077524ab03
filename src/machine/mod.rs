//! The machine itself, as the update agent and the fleet member see it: its settings
//! (`settings`: update.conf and the release files, read as update_engine reads them), its
//! identity for this boot (`node`: machine id, boot id, kernel command line), the health
//! check that judges a freshly booted release or an applied config (`health`), and the
//! reboot hooks, read and run (`hooks`: the commands before a reboot and after the next
//! boot's health check).
//!
//! Everything here reads the root (or, for the health check on the running system, asks
//! systemd) and changes nothing. It stands below both `fleet` and `agent`, so neither has
//! to import the other to know the machine.

pub mod error;
pub mod health;
pub mod hooks;
pub mod node;
pub mod settings;

pub use error::Error;
