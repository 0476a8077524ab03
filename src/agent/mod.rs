//! The on-node agent: an explicit state machine (update_engine's states) that checks the
//! channel, downloads, verifies, installs into the passive slot, reboots by strategy and
//! marks the new slot good or records a rollback.
//!
//! The agent reads only what the compiler emits (`settings`: update.conf and the release
//! files), keeps its state in one atomically written record (`state`, under
//! `/var/lib/kindling/` in the root), and touches nothing outside its root and its disk:
//! the running system's systemd is asked only when the root is `/` (`health`), and a reboot
//! is a command (`systemctl reboot` on a real node, whatever a test sets elsewhere). It never
//! makes a slot bootable before the payload in it passed the size, SHA-256 and signature
//! checks, and never makes the booted slot unbootable.

pub mod pipeline;
pub mod reboot;
pub mod run;
pub mod schedule;
pub mod state;
pub mod status;
pub mod store;
