//! `kindling::units::drop-in-incomplete`: a drop-in without a name or content.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_drop_in_incomplete`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_drop_in_incomplete::RULE;

/// Check every drop-in.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        for drop_in in unit.value.drop_ins() {
            let d = &drop_in.value;
            let no_name = d.name.as_ref().is_none_or(|n| n.value.is_empty());
            let no_content = d.content.as_ref().is_none_or(|c| c.value.text.is_empty());
            let what = match (no_name, no_content) {
                (true, true) => "this drop-in has neither a name nor content",
                (true, false) => "this drop-in has no name",
                (false, true) => "this drop-in has no content",
                (false, false) => continue,
            };
            out.push(RULE.at(drop_in.span, what));
        }
    }
}
