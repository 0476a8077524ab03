//! `kindling::units::network-command`: `command` on a systemd-networkd file.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::network-command",
    severity: Severity::Warning,
    summary: "command on a .network, .netdev or .link file, which the node ignores",
    help: "remove command: networkd files are applied by restarting systemd-networkd, which happens by itself",
    explanation: ".network, .netdev and .link files are not units: coreos-cloudinit writes them to \
/etc/systemd/network and restarts systemd-networkd, and ignores their `command` (and `enable`).",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: 10-eth0.network\n      command: start\n      content: |\n        [Match]\n        Name=eth0\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: 10-eth0.network\n      content: |\n        [Match]\n        Name=eth0\n",
};
