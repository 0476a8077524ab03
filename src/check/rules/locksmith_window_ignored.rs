//! `kindling::locksmith::window-ignored`: a reboot window that the strategy ignores.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::locksmith_window_ignored`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::locksmith_window_ignored::RULE;

/// Check the pair.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(strategy) = cx
        .config
        .update()
        .and_then(|u| u.value.reboot_strategy.as_ref())
        .filter(|s| matches!(s.value.as_str(), "reboot" | "off"))
        .map(|s| (s.value.as_str(), s.span))
        .or_else(|| {
            // The maintenance window sets REBOOT_STRATEGY=off and masks locksmithd; with the
            // kindling agent it is the agent's window instead of locksmith's.
            let update = cx.config.update()?;
            let label = if update.value.kindling_reboots() {
                "set by maintenance-window (its calendar is the agent's window)"
            } else {
                "off (maintenance-window)"
            };
            update
                .value
                .maintenance_window
                .as_ref()
                .map(|w| (label, w.key_span))
        })
    else {
        return;
    };
    let Some(start) = cx
        .config
        .locksmith()
        .and_then(|l| l.value.window_start.as_ref())
        .filter(|s| !s.value.is_empty())
    else {
        return;
    };
    out.push(
        RULE.at(
            start.key_span,
            format!(
                "the reboot window has no effect with reboot-strategy {}",
                strategy.0
            ),
        )
        .with_related(strategy.1, "the strategy"),
    );
}
