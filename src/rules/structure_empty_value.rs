//! `kindling::structure::empty-value`: a known key with no value at all.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::empty-value",
    severity: Severity::Warning,
    summary: "a key with no value; it is ignored",
    help: "give the key a value, or remove it",
    explanation: "`coreos:` followed by nothing, or `hostname:` alone, is a YAML null. The node \
treats it as if the key were absent. Often the value was meant to be indented below the key.",
    example: "#cloud-config\ncoreos:\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
};
