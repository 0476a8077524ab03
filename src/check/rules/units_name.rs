//! `kindling::units::name`: a unit name systemd does not accept.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_name`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_name::RULE;

/// Check every unit name.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        let Some(name) = unit.value.name.as_ref().filter(|n| !n.value.is_empty()) else {
            continue;
        };
        let n = name.value.as_str();
        if crate::units::kind(n).is_none() {
            let suffix = n.rsplit_once('.').map(|(_, s)| s);
            let hint = suffix
                .and_then(|s| {
                    crate::units::SUFFIXES
                        .iter()
                        .map(|(t, _)| *t)
                        .chain(["network", "netdev", "link"])
                        .map(|t| (crate::suggest::distance(s, t), t))
                        .min()
                        .filter(|(d, _)| *d <= 2)
                        .map(|(_, t)| format!("did you mean .{t}?"))
                })
                .unwrap_or_else(|| RULE.help.to_string());
            out.push(
                RULE.at(
                    name.span,
                    format!("{n:?} has no unit type suffix systemd knows"),
                )
                .with_help(hint),
            );
        } else if !n
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, ':' | '-' | '_' | '.' | '\\' | '@'))
        {
            out.push(RULE.at(
                name.span,
                format!("{n:?} contains characters systemd does not allow in unit names"),
            ));
        }
    }
}
