//! `kindling::write-files::duplicate-path`: two write_files entries for one path.

use std::collections::HashMap;

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::root::clean;

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

/// Check every path.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut first = HashMap::new();
    for file in cx.config.write_files() {
        let Some(path) = &file.value.path else {
            continue;
        };
        if path.value.is_empty() {
            continue;
        }
        let cleaned = clean(&path.value);
        if let Some(prev) = first.insert(cleaned.clone(), path.span) {
            out.push(
                RULE.at(
                    path.span,
                    format!("{cleaned} is written a second time; this entry replaces the first"),
                )
                .with_related(prev, "first written here"),
            );
        }
    }
}
