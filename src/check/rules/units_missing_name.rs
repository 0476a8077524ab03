//! `kindling::units::missing-name`: a unit entry without a name.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_missing_name`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_missing_name::RULE;

/// Check every unit.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        if unit.value.name().is_empty() {
            out.push(RULE.at(unit.span, "this unit has no name"));
        }
    }
}
