//! `kindling::units::duplicate-name`: the same unit listed twice.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_duplicate_name`].

use super::shared::{present, repeated};
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_duplicate_name::RULE;

/// Check unit names.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let names = cx
        .config
        .units()
        .filter_map(|u| present(u.value.name.as_ref()))
        .map(|name| (name.value.as_str(), name.span));
    for (name, span, before) in repeated(names) {
        out.push(
            RULE.at(span, format!("unit {name:?} is listed a second time"))
                .with_related(before, "first listed here"),
        );
    }
}
