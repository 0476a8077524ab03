//! `kindling::etcd::discovery-url`: an etcd or etcd2 discovery value that is not a URL.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::etcd::discovery-url",
    severity: Severity::Warning,
    summary: "an etcd discovery value that is not a URL",
    help: "use the full discovery URL, e.g. https://discovery.etcd.io/<token>",
    explanation: "`discovery` must be an absolute URL (or an absolute path), as Go's \
`url.ParseRequestURI` requires. coreos-cloudinit checks only `coreos.etcd.discovery`; kindling \
checks `coreos.etcd2.discovery` too.",
    example: "#cloud-config\ncoreos:\n  etcd2:\n    discovery: 6a28e078895c5ec737174db2419bb2f3\n",
    fixed: "#cloud-config\ncoreos:\n  etcd2:\n    discovery: https://discovery.etcd.io/6a28e078895c5ec737174db2419bb2f3\n",
};
