//! `kindling::write-files::duplicate-path`: two write_files entries for one path.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::duplicate-path",
    severity: Severity::Warning,
    summary: "two write_files entries write the same file; the last one wins",
    help: "keep one entry per file",
    explanation: "Entries are written in order, so the later one replaces the earlier one. Paths \
are compared after cleaning (`/etc//x` and `/etc/./x` are `/etc/x`).",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: one\n  - path: /etc//motd\n    content: two\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: two\n",
};
