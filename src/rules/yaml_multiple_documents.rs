//! `kindling::yaml::multiple-documents`: a second YAML document, which nodes ignore.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::yaml::multiple-documents",
    severity: Severity::Warning,
    summary: "the file holds more than one YAML document; only the first is used",
    help: "merge the documents into one, or remove the `---` line",
    explanation: "coreos-cloudinit reads only the first YAML document of the user-data. \
Everything after a second `---` is silently ignored on the node.",
    example: "#cloud-config\nhostname: node1\n---\nssh_authorized_keys:\n  - ssh-ed25519 AAAA\n",
    fixed: "#cloud-config\nhostname: node1\nssh_authorized_keys:\n  - ssh-ed25519 AAAA\n",
};
