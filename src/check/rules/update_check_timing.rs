//! `kindling::update::check-timing`: when the kindling agent checks for updates.
//!
//! The check of a zero interval; the rule itself is [`crate::rules::update_check_timing`],
//! its value check `model::values::CHECK_TIMING`.

use super::shared::update_key;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::plan::agent::seconds;
use crate::rules::update_check_timing::RULE;

/// A zero interval.
pub fn check_interval(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(interval) = update_key(cx, |u| u.check_interval.as_ref()) else {
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
