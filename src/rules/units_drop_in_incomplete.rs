//! `kindling::units::drop-in-incomplete`: a drop-in without a name or content.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::drop-in-incomplete",
    severity: Severity::Error,
    summary: "a drop-in without a name or without content; the node skips it",
    help: "give every drop-in both `name:` (ending in .conf) and `content:`",
    explanation: "coreos-cloudinit writes a drop-in only when it has both a name and content, and \
silently skips it otherwise.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - content: |\n            [Service]\n            Environment=DOCKER_OPTS=--debug\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - name: 50-debug.conf\n          content: |\n            [Service]\n            Environment=DOCKER_OPTS=--debug\n",
};
