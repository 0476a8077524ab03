//! `kindling::locksmith::window-pair`: a reboot window needs both a start and a length
//! that fits the period.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::locksmith_window_pair`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::reboot::{is_weekly, parse_go_duration};
use crate::rules::locksmith_window_pair::RULE;

/// Check the pair.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(locksmith) = cx.config.locksmith() else {
        return;
    };
    let l = &locksmith.value;
    let start = l.window_start.as_ref().filter(|s| !s.value.is_empty());
    let length = l.window_length.as_ref().filter(|s| !s.value.is_empty());
    match (start, length) {
        (Some(s), None) => out.push(RULE.at(
            s.key_span,
            "window-start is set without window-length; locksmithd will not start",
        )),
        (None, Some(len)) => out.push(RULE.at(
            len.key_span,
            "window-length is set without window-start; locksmithd will not start",
        )),
        (Some(s), Some(len)) => {
            let Ok(nanos) = parse_go_duration(&len.value) else {
                return;
            };
            let (limit, period) = if is_weekly(&s.value) {
                (
                    7.0 * 24.0 * 3600e9,
                    "a weekly window must be shorter than 7 days (168h)",
                )
            } else {
                (24.0 * 3600e9, "a daily window must be shorter than 24h")
            };
            if nanos >= limit {
                out.push(
                    RULE.at(
                        len.span,
                        format!("window-length {} is too long: {period}", len.value),
                    )
                    .with_related(s.span, "the window starts here"),
                );
            }
        }
        (None, None) => {}
    }
}
