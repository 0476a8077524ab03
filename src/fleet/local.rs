//! What a fleet member remembers of its own applies: `/var/lib/kindling/fleet.json` in
//! the node's root (the generation applied and worked towards, its state, the reboot it owes
//! and the boot that owes it, the paths fleet configs manage, what a rollback would restore). The member
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
    /// Why a reboot is required: the reboot-required changes applied and not yet in effect
    /// (kept through later applies until a boot happened).
    pub reboot_required: Vec<String>,
    /// The boot that applied them (a different boot id: rebooted, the reboot is no longer
    /// owed).
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

    /// Whether this node owes a reboot on boot `boot_id`: a reboot-required change applied
    /// on this boot, not yet in effect. It stays owed through later applies (in-service or
    /// not, failed or not) until a boot with another id.
    #[must_use]
    pub fn owes_reboot(&self, boot_id: &str) -> bool {
        !self.reboot_required.is_empty() && self.reboot_boot_id.as_deref() == Some(boot_id)
    }

    /// Owe a reboot on boot `boot_id` for `reasons` too (those already owed are kept).
    pub fn owe_reboot(&mut self, reasons: Vec<String>, boot_id: &str) {
        if self.reboot_boot_id.as_deref() != Some(boot_id) {
            self.reboot_required.clear();
        }
        for r in reasons {
            if !self.reboot_required.contains(&r) {
                self.reboot_required.push(r);
            }
        }
        self.reboot_boot_id = Some(boot_id.to_string());
    }

    /// Take up the node's memory on boot `boot_id`: a reboot owed by an earlier boot
    /// happened (its changes are now in effect) and is forgotten; one remembered without a
    /// boot id (an older memory) is taken as owed by this boot. True when it changed.
    pub fn settle_boot(&mut self, boot_id: &str) -> bool {
        match &self.reboot_boot_id {
            Some(b) if b != boot_id => {
                self.reboot_required.clear();
                self.reboot_boot_id = None;
                if matches!(self.state, NodeState::AwaitingReboot(_)) {
                    self.state = NodeState::Applied;
                }
                true
            }
            None if !self.reboot_required.is_empty() => {
                self.reboot_boot_id = Some(boot_id.to_string());
                true
            }
            _ => false,
        }
    }

    /// The state after a healthy apply: waiting for the reboot while one is owed.
    pub fn applied(&mut self, boot_id: &str) {
        if self.owes_reboot(boot_id) {
            self.state = NodeState::AwaitingReboot(self.reboot_required.join("; "));
        } else {
            self.state = NodeState::Applied;
            self.reboot_required.clear();
            self.reboot_boot_id = None;
        }
    }

    /// Write the node's memory (atomically).
    pub(super) fn save(&self, root: &Root) -> Result<(), Error> {
        let path = root.resolve(LOCAL)?;
        let text = serde_json::to_vec_pretty(self).map_err(Error::Memory)?;
        crate::apply::write_file(&path, &text, 0o644, (0, 0))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reboot_owed_lasts_until_a_boot_with_another_id() {
        let mut local = Local::default();
        assert!(!local.owes_reboot("b1"));
        local.owe_reboot(vec!["sysctl".into()], "b1");
        local.applied("b1");
        assert_eq!(local.state, NodeState::AwaitingReboot("sysctl".into()));
        // An in-service apply on the same boot keeps it; a second reason is added once.
        local.applied("b1");
        local.owe_reboot(vec!["sysctl".into(), "kernel".into()], "b1");
        local.applied("b1");
        assert_eq!(
            local.state,
            NodeState::AwaitingReboot("sysctl; kernel".into())
        );
        assert!(!local.settle_boot("b1"));
        assert!(local.owes_reboot("b1"));
        // Another boot: done.
        assert!(local.settle_boot("b2"));
        assert_eq!(local.state, NodeState::Applied);
        assert!(!local.owes_reboot("b2") && local.reboot_required.is_empty());
        // An older memory without a boot id is owed by this boot.
        let mut old = Local {
            reboot_required: vec!["sysctl".into()],
            ..Local::default()
        };
        assert!(old.settle_boot("b3"));
        assert!(old.owes_reboot("b3"));
    }
}
