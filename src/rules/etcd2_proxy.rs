//! `kindling::etcd2::proxy`: `coreos.etcd2.proxy` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::etcd2::proxy",
    severity: Severity::Error,
    summary: "an etcd2 proxy mode that is not on, off or readonly",
    help: "use on, off or readonly",
    explanation: "`coreos.etcd2.proxy` becomes `ETCD_PROXY` for etcd2. Unquoted `on` and `off` \
are fine: the dialect keeps the text of string values.",
    example: "#cloud-config\ncoreos:\n  etcd2:\n    proxy: enabled\n",
    fixed: "#cloud-config\ncoreos:\n  etcd2:\n    proxy: on\n",
};
