//! `kindling::write-files::missing-path`: a write_files entry without a path.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_missing_path`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_missing_path::RULE;

/// Check every file.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for file in cx.config.write_files() {
        if file.value.path.as_ref().is_none_or(|p| p.value.is_empty()) {
            out.push(RULE.at(file.span, "this file has no path"));
        }
    }
}
