//! `kindling::units::duplicate-name`: the same unit listed twice.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::duplicate-name",
    severity: Severity::Warning,
    summary: "the same unit appears in two coreos.units entries",
    help: "merge the two entries into one",
    explanation: "Each entry is applied in turn: the second entry's content replaces the first's, \
its drop-ins are added, and its command runs again. That is rarely what was meant and hard to \
read; one entry per unit says it plainly.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: etcd2.service\n      command: start\n    - name: etcd2.service\n      drop-ins:\n        - name: 10-opts.conf\n          content: |\n            [Service]\n            Environment=A=1\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: etcd2.service\n      command: start\n      drop-ins:\n        - name: 10-opts.conf\n          content: |\n            [Service]\n            Environment=A=1\n",
};
