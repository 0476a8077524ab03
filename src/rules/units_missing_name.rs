//! `kindling::units::missing-name`: a unit entry without a name.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::missing-name",
    severity: Severity::Error,
    summary: "a coreos.units entry without a name; the node skips it",
    help: "add `name:` with the unit's file name, e.g. `name: docker.service`",
    explanation: "The unit's name is its file name and decides everything else (its path, its \
type). coreos-cloudinit documents it as required but does not check it: the node logs \
`Skipping unit without name` and moves on. kindling makes it an error.",
    example: "#cloud-config\ncoreos:\n  units:\n    - command: start\n      content: |\n        [Service]\n        ExecStart=/usr/bin/true\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/usr/bin/true\n",
};
