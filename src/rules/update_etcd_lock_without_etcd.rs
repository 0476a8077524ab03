//! `kindling::update::etcd-lock-without-etcd`: `reboot-strategy: etcd-lock` with no etcd
//! anywhere in sight.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::etcd-lock-without-etcd",
    severity: Severity::Warning,
    summary: "reboot-strategy etcd-lock without an etcd endpoint or etcd on the node",
    help: "set coreos.locksmith.endpoint, run etcd on the node, or use reboot-strategy: best-effort",
    explanation: "With `etcd-lock`, locksmithd reboots only after taking the reboot lock in etcd. \
When the config names no `locksmith.endpoint` and runs no etcd (`etcd`, `etcd2`, an etcd unit), \
locksmithd tries the default local endpoint forever and the node never reboots into its \
updates. `best-effort` (a kindling extension) falls back to rebooting when etcd is not there.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n",
};
