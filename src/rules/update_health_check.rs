//! `kindling::update::health-check`: what the kindling agent checks before it marks an
//! update good.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::model::ValueRule;
use crate::units::values::is_unit_name;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::health-check",
    severity: Severity::Error,
    summary: "a health check with a unit that is not a unit name, a command on several lines, or nothing to check",
    help: "list full unit names (`docker.service`) under `units:` and a one-line shell command under `command:`",
    explanation: "`coreos.update.health-check` (a kindling extension) says when a node that booted \
into an update is healthy: every unit under `units` is active and `command` (run with \
`/bin/sh -c`) exits 0. Only then does the kindling agent mark the new slot good; otherwise it \
rolls back. Both become update.conf lines (`KINDLING_HEALTH_UNITS=` with the unit names \
separated by blanks, `KINDLING_HEALTH_COMMAND=` with the command verbatim), so a unit must be \
a full unit name with its suffix and the command must fit on one line (join lines with `&&` or \
`;`). A health check with neither checks nothing (a warning).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    health-check:\n      units: [docker]\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    health-check:\n      units: [docker.service]\n",
};

/// The value check of `command`.
pub static VALUE: ValueRule = ValueRule {
    rule: &RULE,
    check: command,
};

fn command(text: &str) -> Result<(), String> {
    if text.trim().is_empty() {
        return Err("the command is blank".into());
    }
    Ok(())
}

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
    let Some(health) = cx
        .config
        .update()
        .and_then(|u| u.value.health_check.as_ref())
    else {
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
    fn commands() {
        assert!(super::command("systemctl is-active docker").is_ok());
        assert!(super::command("  ").is_err());
        assert_eq!(
            super::second_line("curl -fsS http://127.0.0.1/healthz\n"),
            None
        );
        assert_eq!(super::second_line("a\nb"), Some(1));
        assert_eq!(super::second_line("a\n\n  b\n"), Some(2));
    }
}
