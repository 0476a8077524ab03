//! `kindling::write-files::missing-path`: a write_files entry without a path.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_missing_path`].

use super::shared::missing;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_missing_path::RULE;

/// Check every file.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for span in missing(cx.config.write_files(), |f| f.path.as_ref()) {
        out.push(RULE.at(span, "this file has no path"));
    }
}
