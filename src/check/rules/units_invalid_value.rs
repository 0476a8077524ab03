//! `kindling::units::invalid-value`: a unit-file value systemd cannot parse.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_invalid_value`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_invalid_value::RULE;
use crate::units::values::{check as check_value, kind_of};

/// Check every value.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in &cx.units {
        for d in &doc.text.directives {
            let Some(section) = d.section.as_deref() else {
                continue;
            };
            let Some(kind) = kind_of(section, &d.key) else {
                continue;
            };
            // An empty assignment resets a list or a value to its default.
            if d.value.is_empty() {
                continue;
            }
            if let Err(why) = check_value(kind, &d.key, &d.value) {
                out.push(RULE.at(
                    cx.unit_span(doc, d.line, d.value_range),
                    format!("{why}; systemd ignores the setting"),
                ));
            }
        }
    }
}
