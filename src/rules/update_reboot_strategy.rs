//! `kindling::update::reboot-strategy`: `coreos.update.reboot-strategy` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::reboot-strategy",
    severity: Severity::Error,
    summary: "an unknown reboot strategy",
    help: "use reboot, etcd-lock, off, or best-effort (a kindling extension)",
    explanation: "`reboot-strategy` says how a node reboots into a downloaded update: `reboot` \
at once, `etcd-lock` after taking the cluster-wide lock, `off` never by itself. kindling adds \
`best-effort`: through the lock when etcd is reachable, else at once. Values are \
case-sensitive. This is the one value coreos-cloudinit checks at apply time: an invalid one \
aborts the whole apply on the node. Unquoted `off` is fine: the dialect keeps the text.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: always\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: reboot\n",
};
