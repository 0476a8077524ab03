//! `kindling::write-files::missing-content`: a write_files entry without content.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

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

/// Check every file.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for file in cx.config.write_files() {
        let f = &file.value;
        // An explicit empty string counts as content; only an absent key is reported.
        if f.content.is_none() && f.path.is_some() {
            let path = f.path.as_ref().map_or("", |p| p.value.as_str());
            out.push(RULE.at(
                file.span,
                format!("{path} has no content: the node writes an empty file"),
            ));
        }
    }
}
