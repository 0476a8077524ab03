//! `kindling::source::skipped`: empty user-data, scripts and Ignition are not validated.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::skipped",
    severity: Severity::Info,
    summary: "the user-data is empty, a #! script or Ignition JSON, and is not validated",
    help: "nothing to check here",
    explanation: "coreos-cloudinit accepts three things besides a cloud-config: empty user-data \
(nothing is done), a script whose first line starts with `#!` (run with /bin/bash whatever \
interpreter it names) and an Ignition JSON config (left to Ignition). kindling says which one it \
saw and exits 0.",
    example: "#!/bin/bash\necho hello\n",
    fixed: "#cloud-config\nhostname: node1\n",
};
