//! `kindling::compile::unsupported-input`: compiling something that is not a cloud-config.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::compile::unsupported-input",
    severity: Severity::Error,
    summary: "only a #cloud-config can be compiled; scripts and Ignition configs cannot",
    help: "compile a #cloud-config; a script or an Ignition config is already what a node runs",
    explanation: "`kindling compile` turns a cloud-config into files and actions. A `#!` script \
is run as is by coreos-cloudinit, and an Ignition config is applied by Ignition; there is \
nothing for kindling to compile.",
    example: "#!/bin/bash\necho hello\n",
    fixed: "#cloud-config\nhostname: node1\n",
};
