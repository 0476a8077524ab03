//! `kindling::units::duplicate-name`: the same unit listed twice.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_duplicate_name`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_duplicate_name::RULE;
use std::collections::HashMap;

/// Check unit names.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut first = HashMap::new();
    for unit in cx.config.units() {
        let Some(name) = &unit.value.name else {
            continue;
        };
        if name.value.is_empty() {
            continue;
        }
        if let Some(prev) = first.insert(name.value.as_str(), name.span) {
            out.push(
                RULE.at(
                    name.span,
                    format!("unit {:?} is listed a second time", name.value),
                )
                .with_related(prev, "first listed here"),
            );
        }
    }
}
