//! The on-node agent: an explicit state machine (update_engine's states) that checks the
//! channel, downloads, verifies, installs into the passive slot, reboots by strategy and
//! marks the new slot good or records a rollback.
//!
//! The agent reads only what the compiler emits (`crate::machine`: update.conf, the release
//! files, the node's identity), keeps its state in one atomically written record (`state`,
//! kept by `record_file` under `/var/lib/kindling/` in the root), and touches nothing
//! outside its root and its disk: the running system's systemd is asked only when the root
//! is `/` (the health check), and a reboot is a command (`systemctl reboot` on a real node,
//! whatever a test sets elsewhere). It never makes a slot bootable before the payload in it
//! passed the size, SHA-256 and signature checks, and never makes the booted slot
//! unbootable.
//!
//! The files, from the ground up: `state` (the states and the record), `record_file`,
//! `error`, `schedule`, `status`; `driver` (the [`Agent`] the phases share); the phases
//! `check`, `install` (with `finalize`: a CrAU payload's kernel and postinst), `after_boot`,
//! `reboot` and `lock_hold`, with the reboot hooks' policy (`hooks`: before the reboot, after
//! the next boot's health check); `control` (the socket), `on_bus` (update_engine's D-Bus
//! interface, served from the record), `run` (the daemon's loop) and `on_demand` (what a
//! command asks of the agent); the reboot manager for nodes that keep update_engine
//! (`reboot_manager`, with locksmithd's configuration read by `locksmithd_env`).

pub mod after_boot;
pub mod check;
pub mod control;
pub mod driver;
pub mod error;
pub mod finalize;
pub mod hooks;
pub mod install;
pub mod install_crau;
pub mod lock_hold;
pub mod locksmithd_env;
pub mod on_bus;
pub mod on_demand;
pub mod reboot;
pub mod reboot_manager;
pub mod record_file;
pub mod run;
pub mod schedule;
pub mod state;
pub mod status;

pub use driver::Agent;
pub use error::Error;
