//! `kindling::structure::root`: the document is a list or a string, not a mapping.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::root",
    severity: Severity::Error,
    summary: "the cloud-config's top level is not a mapping of keys",
    help: "the top level must be keys such as `coreos:`, `write_files:`, `users:`",
    explanation: "A cloud-config is a mapping at the top level. A list or a bare string parses \
as YAML, so coreos-cloudinit's validator says nothing, but the node finds no keys and applies \
nothing.",
    example: "#cloud-config\n- hostname: node1\n",
    fixed: "#cloud-config\nhostname: node1\n",
};
