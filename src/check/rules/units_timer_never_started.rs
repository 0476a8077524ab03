//! `kindling::units::timer-never-started`: a timer the config writes but nothing starts.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_timer_never_started`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::model::Unit;
use crate::rules::units_timer_never_started::RULE;
use std::collections::HashMap;

/// Check every timer.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    // Every `*.timer` word any unit's text mentions, with the unit it appears in, in one
    // pass (so many timers stay linear).
    let mut mentioned: HashMap<&str, Vec<&str>> = HashMap::new();
    for unit in cx.config.units() {
        let Some(content) = &unit.value.content else {
            continue;
        };
        for word in content
            .value
            .text
            .split(|c: char| c.is_whitespace() || matches!(c, '=' | ',' | '"' | '\''))
        {
            if word.ends_with(".timer") {
                mentioned.entry(word).or_default().push(unit.value.name());
            }
        }
    }
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
        let pulled_in = mentioned
            .get(name)
            .is_some_and(|units| units.iter().any(|other| *other != name));
        if !(started || enabled || pulled_in) {
            let span = u.name.as_ref().map_or(unit.span, |n| n.span);
            out.push(RULE.at(
                span,
                format!("nothing starts {name}: it is written but never activated"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    fn codes(text: &str) -> Vec<&'static str> {
        crate::validate("t", text.as_bytes().to_vec())
            .findings
            .iter()
            .map(|f| f.rule.code)
            .collect()
    }

    #[test]
    fn a_timer_pulled_in_by_another_unit_is_started() {
        let text = "#cloud-config\ncoreos:\n  units:\n    - name: a.timer\n      content: |\n        [Timer]\n        OnCalendar=daily\n    - name: b.service\n      command: start\n      content: |\n        [Unit]\n        Wants=a.timer\n        [Service]\n        ExecStart=/bin/true\n";
        assert!(!codes(text).contains(&super::RULE.code));
        let alone = "#cloud-config\ncoreos:\n  units:\n    - name: a.timer\n      content: |\n        [Timer]\n        OnCalendar=daily\n";
        assert!(codes(alone).contains(&super::RULE.code));
    }
}
