//! `kindling::reader::rejected`: a value the node's reader (`validate --for`) rejects.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::reader::rejected",
    severity: Severity::Error,
    summary: "a value kindling accepts but the chosen reader (coreos-cloudinit) rejects",
    help: "use a value coreos-cloudinit accepts (`reboot-strategy: etcd-lock`, `reboot` or \
`off`), or let kindling read the config (start kindling from the cloud-config and let it \
apply the rest)",
    explanation: "`kindling validate --for coreos-cloudinit` checks a config for a node whose own \
coreos-cloudinit reads it. Some values are kindling's alone: `reboot-strategy: best-effort` \
(locksmith's old strategy, which kindling keeps) fails coreos-cloudinit's check \
`^(etcd-lock|reboot|off)$`, and coreos-cloudinit does not render a `## template:` file at all. \
What coreos-cloudinit rejects, it does not apply.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: best-effort\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n",
};
