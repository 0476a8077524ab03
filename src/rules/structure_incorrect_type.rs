//! `kindling::structure::incorrect-type`: a value of the wrong type for its key.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::incorrect-type",
    severity: Severity::Error,
    summary: "a value of the wrong type (a string where a boolean is wanted, a mapping where a list is)",
    help: "write the value as the type the key wants",
    explanation: "A value of the wrong type is dropped when the node reads the config: \
`enable: \"true\"` (a quoted string) does not enable the unit, `groups: wheel` (a string, not a \
list) adds no group. coreos-cloudinit's validator calls this a warning; kindling makes it an \
error because the node silently does something other than what the file says. Booleans follow \
YAML 1.1: `true/false`, `yes/no`, `on/off`, `y/n`, unquoted.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      enable: \"true\"\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      enable: true\n",
};
