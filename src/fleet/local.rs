//! What a fleet member remembers of its own applies: `/var/lib/kindling/fleet.json` in
//! the node's root (the generation applied and worked towards, its state, why a reboot is
//! required, the paths fleet configs manage, what a rollback would restore). The member
//! (`member`) writes it after each step so a restart resumes; `recover` reads and updates
//! it when an operator asks for a rollback.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::error::Error;
use super::record::{NodeState, RollbackAnswer};
use crate::root::Root;

/// What the node remembers of the fleet: `/var/lib/kindling/fleet.json` in the root.
pub const LOCAL: &str = "/var/lib/kindling/fleet.json";

/// The node's own memory of what it applied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Local {
    /// The generation applied.
    pub generation: u64,
    /// The generation worked towards.
    pub target: u64,
    /// Where the node stands.
    pub state: NodeState,
    /// Why a reboot is required.
    pub reboot_required: Vec<String>,
    /// The boot that applied a reboot-required change (a different boot id: rebooted).
    pub reboot_boot_id: Option<String>,
    /// Whether the last apply passed the health check.
    pub healthy: bool,
    /// Unix milliseconds.
    pub apply_started_ms: u64,
    /// Unix milliseconds.
    pub apply_finished_ms: u64,
    /// Every path a fleet config planned here (the digest covers them).
    pub managed: BTreeSet<String>,
    /// What a rollback would restore: the fleet generation the node had before its last
    /// apply, and the name of the generation that apply saved (see `recover`).
    pub rollback_to: Option<(u64, String)>,
    /// The answer to the last rollback request.
    pub rollback: Option<RollbackAnswer>,
}

impl Local {
    /// Read the node's memory (a missing or unreadable file is a node that applied nothing).
    #[must_use]
    pub fn load(root: &Root) -> Local {
        root.resolve(LOCAL)
            .ok()
            .and_then(|p| std::fs::read(p).ok())
            .and_then(|b| serde_json::from_slice(&b).ok())
            .unwrap_or_default()
    }

    /// Write the node's memory (atomically).
    pub(super) fn save(&self, root: &Root) -> Result<(), Error> {
        let path = root.resolve(LOCAL)?;
        let text = serde_json::to_vec_pretty(self).map_err(Error::Memory)?;
        crate::apply::write_file(&path, &text, 0o644, (0, 0))?;
        Ok(())
    }
}
