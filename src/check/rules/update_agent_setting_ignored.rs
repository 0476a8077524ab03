//! `kindling::update::agent-setting-ignored`: a kindling agent setting without the agent.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_agent_setting_ignored`].

use crate::check::Context;
use crate::diagnostic::{Finding, Span};
use crate::model::values::AGENT_UPDATE_ENGINE;
use crate::rules::update_agent_setting_ignored::RULE;

/// Check the settings.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    let u = &update.value;
    // An agent that is neither is reported by `kindling::update::agent`; which one was
    // meant is unknown, so nothing is said about the settings.
    let update_engine = u
        .agent
        .as_ref()
        .is_none_or(|a| a.value.is_empty() || a.value == AGENT_UPDATE_ENGINE);
    // With the reboot manager update-engine still updates; only the health check (after
    // the reboot, before the slot is given back) and the reboot hooks are read.
    let manager = u.reboot_manager();
    if !update_engine && !manager {
        return;
    }
    let settings: [(&str, Option<Span>); 6] = [
        ("signing-keys", u.signing_keys.as_ref().map(|s| s.key_span)),
        ("health-check", u.health_check.as_ref().map(|s| s.key_span)),
        ("reboot-hooks", u.reboot_hooks.as_ref().map(|s| s.key_span)),
        (
            "check-interval",
            u.check_interval.as_ref().map(|s| s.key_span),
        ),
        (
            "first-check-delay",
            u.first_check_delay.as_ref().map(|s| s.key_span),
        ),
        ("check-jitter", u.check_jitter.as_ref().map(|s| s.key_span)),
    ];
    for (name, span) in settings {
        let Some(span) =
            span.filter(|_| !(manager && matches!(name, "health-check" | "reboot-hooks")))
        else {
            continue;
        };
        let mut finding = RULE.at(
            span,
            format!("{name} is read only by the kindling agent; update-engine ignores it"),
        );
        if let Some(agent) = &u.agent {
            finding = finding.with_related(agent.span, "the agent chosen here");
        }
        out.push(finding);
    }
}
