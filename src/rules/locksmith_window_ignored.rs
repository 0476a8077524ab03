//! `kindling::locksmith::window-ignored`: a reboot window that the strategy ignores.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-ignored",
    severity: Severity::Warning,
    summary: "a locksmith reboot window with reboot-strategy reboot or off, where it has no effect",
    help: "use reboot-strategy etcd-lock (or best-effort) for the window to apply, or remove the window",
    explanation: "locksmithd applies `window-start`/`window-length` only when it coordinates the \
reboot: with `reboot-strategy: reboot` it reboots as soon as an update is staged, and with `off` \
locksmithd is masked altogether, so the window does nothing.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: reboot\n  locksmith:\n    window-start: Sun 4:00\n    window-length: 2h\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n    window-start: Sun 4:00\n    window-length: 2h\n",
};

/// Check the pair.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(strategy) = cx
        .config
        .update()
        .and_then(|u| u.value.reboot_strategy.as_ref())
        .filter(|s| matches!(s.value.as_str(), "reboot" | "off"))
        .map(|s| (s.value.as_str(), s.span))
        .or_else(|| {
            // The maintenance window sets REBOOT_STRATEGY=off and masks locksmithd.
            let update = cx.config.update()?;
            update
                .value
                .maintenance_window
                .as_ref()
                .map(|w| ("off (maintenance-window)", w.key_span))
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
