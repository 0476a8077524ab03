//! Plan: the files a node needs and the actions that must follow, from a checked config.
//!
//! `plan` is a pure, deterministic function of the typed config (same input, same plan,
//! same bytes): no I/O, no clock, no randomness, maps iterated in sorted order. The order
//! is coreos-cloudinit's `Apply`: hostname, users, SSH keys, then files (`write_files`,
//! `/etc/oem-release`, `/etc/coreos/update.conf`, `/etc/hosts`, flannel's options), then
//! units in list order (the config's, then the generated ones: etcd, etcd2, fleet,
//! locksmithd, update-engine, kindling's extensions and agent), each placed, masked or unmasked and
//! enabled, then one daemon-reload, a networkd restart, and the units' commands.
//!
//! Every file and action remembers the span it came from and whether it takes effect in
//! service (the apply itself makes it current: a restart, a reload, a command) or only
//! after a reboot (or the next start of a unit nobody restarts).
//!
//! The plan assumes a config without errors; on anything else it does its best without
//! panicking (compile refuses configs with errors before planning).
//!
//! This file is the module's face: `types` (the vocabulary), `builder` (the collector),
//! `build` (the steps), `units` (coreos-cloudinit's `processUnits`), `generated` (what the
//! `coreos` sections and the extensions generate), `agent` (the on-node agent's contract)
//! and `text` (the exact value formats).

pub mod agent;
mod build;
mod builder;
mod generated;
pub mod text;
mod types;
mod units;

pub use agent::{AGENT_BINARY, AGENT_UNIT, REBOOT_MANAGER_UNIT, TRUSTED_KEYS_DIR};
pub use build::{GENERATED_PLACES, generated_files, plan};
pub use types::{Action, ActionKind, Content, Effect, Plan, PlanOptions, PlannedFile, UserSpec};
pub use units::is_network as is_network_unit;
