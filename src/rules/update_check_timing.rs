//! `kindling::update::check-timing`: when the kindling agent checks for updates.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::model::ValueRule;
use crate::plan::agent::seconds;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::check-timing",
    severity: Severity::Error,
    summary: "a check-interval, first-check-delay or check-jitter that is not a usable time span",
    help: "write a systemd time span, e.g. `1h`, `45min`, `10min 30s` (a bare number is seconds)",
    explanation: "`check-interval`, `first-check-delay` and `check-jitter` of `coreos.update` \
(kindling extensions) set when the kindling agent checks for updates: the first check \
`first-check-delay` after the agent starts, then every `check-interval`, each wait lengthened \
by a random delay of up to `check-jitter`. Each is a systemd time span, read as \
`systemd-analyze timespan` reads it (units us, ms, s, min, h, d, w, M, y and their long \
forms; a bare number is seconds), and written to update.conf in whole seconds, rounded up. \
`infinity` is refused, and so is a `check-interval` of zero (the agent would check without \
pause).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 1 hour and a half\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 1h 30min\n",
};

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    seconds(text).map(|_| ()).map_err(|e| e.to_string())
}

/// A zero interval.
pub fn check_interval(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(interval) = cx
        .config
        .update()
        .and_then(|u| u.value.check_interval.as_ref())
    else {
        return;
    };
    if seconds(&interval.value) == Ok(0) {
        out.push(RULE.at(
            interval.span,
            format!(
                "check-interval {:?} is zero; the agent would check without pause",
                interval.value
            ),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::seconds;

    #[test]
    fn whole_seconds_rounded_up() {
        assert_eq!(seconds("1h"), Ok(3600));
        assert_eq!(seconds("90"), Ok(90));
        assert_eq!(seconds("1.5min"), Ok(90));
        assert_eq!(seconds("500ms"), Ok(1));
        assert_eq!(seconds("0"), Ok(0));
        assert!(seconds("infinity").is_err());
        assert!(seconds("soon").is_err());
        assert!(seconds("-5min").is_err());
    }
}
