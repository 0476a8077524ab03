//! `kindling::write-files::generated-conflict`: write_files and another key write the same
//! file.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::generated-conflict",
    severity: Severity::Error,
    summary: "write_files writes a file that another key of the config also generates",
    help: "set the value through its key (coreos.update, hostname, coreos.units ...) or drop the other key",
    explanation: "Some files are generated from other keys: `/etc/coreos/update.conf` from \
`coreos.update`, `/etc/hostname` from `hostname`, unit files and drop-ins from `coreos.units`, \
the locksmith drop-in from `coreos.locksmith`, and so on. Writing the same file with \
`write_files` as well means one of the two is silently lost (on the node, whichever is written \
last). kindling finds the generated files by planning the config without `write_files`.",
    example: "#cloud-config\ncoreos:\n  update:\n    group: stable\nwrite_files:\n  - path: /etc/coreos/update.conf\n    content: |\n      GROUP=beta\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    group: beta\n",
};
