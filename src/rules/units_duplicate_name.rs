//! `kindling::units::duplicate-name`: the same unit listed twice.

use std::collections::HashMap;

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

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

/// Check unit names.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut first = HashMap::new();
    for unit in cx.config.units() {
        let Some(name) = &unit.value.name else {
            continue;
        };
        if name.value.is_empty() {
            continue;
        }
        if let Some(prev) = first.insert(name.value.as_str(), name.span) {
            out.push(
                RULE.at(
                    name.span,
                    format!("unit {:?} is listed a second time", name.value),
                )
                .with_related(prev, "first listed here"),
            );
        }
    }
}
