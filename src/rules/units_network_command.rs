//! `kindling::units::network-command`: `command` on a systemd-networkd file.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

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

/// Check every network unit.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        let u = &unit.value;
        if crate::plan::is_network_unit(u.name()) {
            for (field, what) in [
                (u.command.as_ref().map(|c| c.key_span), "command"),
                (
                    u.enable.as_ref().filter(|e| e.value).map(|e| e.key_span),
                    "enable",
                ),
            ] {
                if let Some(span) = field {
                    out.push(RULE.at(span, format!("{what} on {} is ignored: networkd files are applied by restarting systemd-networkd", u.name())));
                }
            }
        }
    }
}
