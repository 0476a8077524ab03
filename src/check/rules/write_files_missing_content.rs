//! `kindling::write-files::missing-content`: a write_files entry without content.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_missing_content`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_missing_content::RULE;

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
