//! `kindling::update::health-check`: what the kindling agent checks before it marks an
//! update good.
//!
//! The check of the units, the command's lines and an empty check; the rule itself is
//! [`crate::rules::update_health_check`], its value check `model::values::HEALTH_COMMAND`.

use super::shared::update_key;
use crate::check::Context;
use crate::diagnostic::{Finding, Severity};
use crate::rules::update_health_check::RULE;
use crate::units::values::is_unit_name;

/// The first line of a command after its first, when it has more than one (a trailing
/// line break, as a `|` block ends, does not count).
fn second_line(text: &str) -> Option<usize> {
    let body = text.trim_end_matches(['\n', '\r']);
    body.contains(['\n', '\r']).then(|| {
        body.lines()
            .enumerate()
            .skip(1)
            .find(|(_, l)| !l.trim().is_empty())
            .map_or(1, |(i, _)| i)
    })
}

/// Check the units and that something is checked.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(health) = update_key(cx, |u| u.health_check.as_ref()) else {
        return;
    };
    let h = &health.value;
    let mut units = 0;
    for unit in h.units.iter().flat_map(|u| u.value.iter()) {
        units += 1;
        let name = unit.value.trim();
        if is_unit_name(name) {
            continue;
        }
        let mut finding = RULE.at(unit.span, format!("{name:?} is not a unit name"));
        if !name.is_empty() && !name.contains(['.', ' ']) {
            finding = finding.with_help(format!("write the full name, e.g. {name}.service"));
        }
        out.push(finding);
    }
    if let Some(c) = &h.command
        && let Some(line) = second_line(&c.value.text)
    {
        out.push(
            RULE.at(
                cx.source
                    .block_line_span(c.span, &c.value.text, c.value.literal, line),
                "the command goes on over several lines; update.conf holds it on one",
            )
            .with_help(
                "join the lines with && or ; (or put the commands in a script and run that)",
            ),
        );
    }
    let command = h
        .command
        .as_ref()
        .is_some_and(|c| !c.value.text.trim().is_empty());
    if units == 0 && !command {
        out.push(
            RULE.at(
                health.key_span,
                "the health check has no units and no command; it checks nothing",
            )
            .with_severity(Severity::Warning),
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn command_lines() {
        assert_eq!(
            super::second_line("curl -fsS http://127.0.0.1/healthz\n"),
            None
        );
        assert_eq!(super::second_line("a\nb"), Some(1));
        assert_eq!(super::second_line("a\n\n  b\n"), Some(2));
    }
}
