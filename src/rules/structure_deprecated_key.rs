//! `kindling::structure::deprecated-key`: a key coreos-cloudinit marks deprecated.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::deprecated-key",
    severity: Severity::Warning,
    summary: "a deprecated key: still compiled, but the software behind it is gone",
    help: "move to the replacement (etcd v3 via a container or sysext, Kubernetes instead of fleet)",
    explanation: "The `etcd`, `etcd2` and `fleet` sections, sixteen etcd v0.4 options and the \
`coreos-ssh-import-*` user keys are deprecated in coreos-cloudinit. kindling still compiles them \
exactly as coreos-cloudinit did, but current images no longer ship the services they configure.",
    example: "#cloud-config\ncoreos:\n  fleet:\n    metadata: region=eu\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    group: stable\n",
};
