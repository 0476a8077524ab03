//! `kindling::write-files::duplicate-path`: two write_files entries for one path.

use std::collections::HashMap;

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

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

/// Clean a path as Go's `path.Clean(path.Join("/", p))` does.
#[must_use]
pub fn clean(path: &str) -> String {
    // Most paths are clean already: absolute, no empty, `.` or `..` components.
    let already = path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if already {
        return path.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

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

#[cfg(test)]
mod tests {
    #[test]
    fn cleaning() {
        assert_eq!(super::clean("/etc//x"), "/etc/x");
        assert_eq!(super::clean("etc/./x"), "/etc/x");
        assert_eq!(super::clean("/tmp/../usr/x"), "/usr/x");
        assert_eq!(super::clean("/../../x"), "/x");
    }
}
