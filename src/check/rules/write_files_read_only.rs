//! `kindling::write-files::read-only`: a file under the read-only /usr.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_read_only`].

use super::shared::file_paths;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_read_only::RULE;

/// Check every path.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for (path, cleaned) in file_paths(cx) {
        if cleaned == "/usr" || cleaned.starts_with("/usr/") {
            out.push(RULE.at(
                path.span,
                format!("{cleaned} is on the read-only /usr filesystem"),
            ));
        }
    }
}
