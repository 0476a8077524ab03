//! `kindling::write-files::missing-path`: a write_files entry without a path.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::missing-path",
    severity: Severity::Error,
    summary: "a write_files entry without a path",
    help: "add `path:` with the absolute path of the file",
    explanation: "Without a path there is nowhere to write the content. coreos-cloudinit does not \
check this before applying.",
    example: "#cloud-config\nwrite_files:\n  - content: hello\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hello\n",
};
