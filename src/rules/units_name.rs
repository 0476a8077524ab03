//! `kindling::units::name`: a unit name systemd does not accept.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::name",
    severity: Severity::Error,
    summary: "a unit name without a valid type suffix, or with characters systemd refuses",
    help: "name the unit NAME.TYPE, e.g. docker.service, backup.timer, 10-eth0.network",
    explanation: "A unit's name ends in its type: .service, .socket, .timer, .mount, .automount, \
.swap, .path, .slice, .scope, .target, .device, or .network/.netdev/.link for systemd-networkd. \
Names may use ASCII letters, digits and `:-_.\\@`. A misspelled suffix (`docker.serivce`) makes \
systemd ignore the file, and a missing one (`docker`) cannot be started or written where \
systemd looks.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.serivce\n      command: start\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.service\n      command: start\n",
};
