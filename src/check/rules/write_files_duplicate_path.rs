//! `kindling::write-files::duplicate-path`: two write_files entries for one path.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_duplicate_path`].

use super::shared::{file_paths, repeated};
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_duplicate_path::RULE;

/// Check every path.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let paths = file_paths(cx).map(|(path, cleaned)| (cleaned, path.span));
    for (cleaned, span, before) in repeated(paths) {
        out.push(
            RULE.at(
                span,
                format!("{cleaned} is written a second time; this entry replaces the first"),
            )
            .with_related(before, "first written here"),
        );
    }
}
