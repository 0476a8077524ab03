//! `kindling::units::name`: a unit name systemd does not accept.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::name",
    severity: Severity::Error,
    summary: "a unit name without a valid type suffix, or with characters systemd refuses",
    help: "name the unit NAME.TYPE, e.g. docker.service, backup.timer, 10-eth0.network",
    explanation: "A unit's name ends in its type: .service, .socket, .timer, .mount, .automount, \
.swap, .path, .slice, .scope, .target, .device, or .network/.netdev/.link for systemd-networkd. \
Names may use ASCII letters, digits and `:-_.\\@`. A misspelled suffix (`docker.serivce`) makes \
systemd ignore the file, and a missing one (`docker`) cannot be started or written where \
systemd looks.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.serivce\n      command: start\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.service\n      command: start\n",
};

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
