//! `kindling::units::timer-never-started`: a timer the config writes but nothing starts.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::model::Unit;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::timer-never-started",
    severity: Severity::Warning,
    summary: "a .timer unit that is written but never started or enabled",
    help: "add `command: start` to the timer (and `enable: true` with an [Install] section to keep it across reboots)",
    explanation: "Writing a timer unit does not activate it. Unless the entry starts it \
(`command: start`), enables it (`enable: true` with `[Install] WantedBy=timers.target`) or another \
unit of the config pulls it in, the timer never fires.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.timer\n      content: |\n        [Timer]\n        OnCalendar=daily\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=daily\n",
};

/// Check every timer.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        let u = &unit.value;
        let name = u.name();
        if !name.ends_with(".timer") || u.content.is_none() || Unit::flag(u.mask.as_ref()) {
            continue;
        }
        let started = u
            .command
            .as_ref()
            .is_some_and(|c| matches!(c.value.as_str(), "start" | "restart" | "reload-or-restart"));
        let enabled = Unit::flag(u.enable.as_ref());
        let pulled_in = cx.config.units().any(|other| {
            other.value.name() != name
                && other
                    .value
                    .content
                    .as_ref()
                    .is_some_and(|c| c.value.text.contains(name))
        });
        if !(started || enabled || pulled_in) {
            let span = u.name.as_ref().map_or(unit.span, |n| n.span);
            out.push(RULE.at(
                span,
                format!("nothing starts {name}: it is written but never activated"),
            ));
        }
    }
}
