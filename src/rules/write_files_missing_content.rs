//! `kindling::write-files::missing-content`: a write_files entry without content.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::missing-content",
    severity: Severity::Warning,
    summary: "a write_files entry without content writes an empty file",
    help: "add `content:`, or `content: \"\"` to say an empty file is meant",
    explanation: "An entry without `content` truncates the file to zero bytes on the node. That is \
occasionally meant, usually a mistake (a mis-indented `content:` key). Write `content: \"\"` to \
say you mean it.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: \"\"\n",
};
