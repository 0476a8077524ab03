//! `kindling::units::drop-in-name`: a drop-in systemd will not read.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_drop_in_name`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_drop_in_name::RULE;

/// Check every drop-in name.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        for drop_in in unit.value.drop_ins() {
            let Some(name) = drop_in.value.name.as_ref() else {
                continue;
            };
            if !name.value.is_empty() && !name.value.ends_with(".conf") {
                out.push(RULE.at(
                    name.span,
                    format!(
                        "systemd ignores the drop-in {:?}: only *.conf files are read",
                        name.value
                    ),
                ));
            }
            if name.value.contains('/') {
                out.push(RULE.at(
                    name.span,
                    format!(
                        "{:?} contains a '/'; a drop-in name is a file name",
                        name.value
                    ),
                ));
            }
        }
    }
}
