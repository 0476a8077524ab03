//! `kindling::yaml::syntax`: the text is not YAML the node can parse.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::yaml::syntax",
    severity: Severity::Error,
    summary: "the cloud-config is not valid YAML",
    help: "fix the YAML at this point; indent with spaces only",
    explanation: "Nodes parse cloud-configs with go-yaml v1 (libyaml, YAML 1.1). When the YAML \
does not parse, nothing in the file is applied. kindling reports the exact line and column, and \
also refuses what YAML 1.2 parsers accept but the node does not: tabs where libyaml allows only \
spaces (at the start of a line, after `- `, `? ` and `: `), and lists or mappings used as keys \
(what an unquoted `{{template}}` becomes). Unlike coreos-cloudinit it does not add a spurious \
`line 0` warning after a syntax error.",
    example: "#cloud-config\ncoreos:\n  update:\n    group stable\n    reboot-strategy: off\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    group: stable\n    reboot-strategy: off\n",
};
