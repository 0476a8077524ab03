//! `kindling::units::network-command`: `command` on a systemd-networkd file.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_network_command`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_network_command::RULE;

/// Check every network unit.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        let u = &unit.value;
        if crate::plan::is_network_unit(u.name()) {
            for (field, what) in [
                (u.command.as_ref().map(|c| c.key_span), "command"),
                (
                    u.enable.as_ref().filter(|e| e.value).map(|e| e.key_span),
                    "enable",
                ),
            ] {
                if let Some(span) = field {
                    out.push(RULE.at(span, format!("{what} on {} is ignored: networkd files are applied by restarting systemd-networkd", u.name())));
                }
            }
        }
    }
}
