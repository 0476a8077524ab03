//! `kindling::write-files::duplicate-path`: two write_files entries for one path.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_duplicate_path`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::root::clean;
use crate::rules::write_files_duplicate_path::RULE;
use std::collections::HashMap;

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
