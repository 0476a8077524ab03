//! `kindling::update::reboot-manager`: what `agent: reboot-manager` does to a node.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::reboot-manager",
    severity: Severity::Info,
    summary: "update-engine keeps updating the node; kindling's reboot manager replaces locksmithd",
    help: "nothing to fix: this says what `agent: reboot-manager` does (write `agent: kindling` for kindling's whole agent)",
    explanation: "`coreos.update.agent: reboot-manager` (a kindling extension) keeps the image's \
update_engine for updates and replaces only locksmithd, the program that reboots the node once \
update_engine staged an update. It masks `locksmithd.service` (in /etc, so the two never race \
for one reboot) and writes `/etc/systemd/system/kindling-reboot-manager.service` (enabled, \
running `/opt/bin/kindling agent reboot-manager`). The reboot manager listens to update_engine \
on D-Bus as locksmithd does, reads locksmithd's configuration unchanged (`REBOOT_STRATEGY`, the \
reboot window, `LOCKSMITHD_*`, from update.conf and its environment, `coreos.locksmith` \
included) and reboots through logind after the window AND the lock (etcd v2, v3 or \
FleetLock); the slot is held across the reboot and given back after the next boot's health \
check (`health-check`). `signing-keys` and the check timing stay unused: update_engine does \
the updates.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: reboot-manager\n    reboot-strategy: etcd-lock\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: update-engine\n    reboot-strategy: etcd-lock\n",
};
