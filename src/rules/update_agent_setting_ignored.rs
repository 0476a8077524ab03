//! `kindling::update::agent-setting-ignored`: a kindling agent setting without the agent.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity, Span};
use crate::model::config::AGENT_UPDATE_ENGINE;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::agent-setting-ignored",
    severity: Severity::Warning,
    summary: "a setting of the kindling agent, but update-engine keeps the node updated",
    help: "add `agent: kindling` to coreos.update, or remove the setting",
    explanation: "`signing-keys`, `health-check`, `check-interval`, `first-check-delay` and \
`check-jitter` (kindling extensions) are read only by the kindling agent. Without \
`agent: kindling` the node keeps update-engine, which ignores them: they are still written \
(the trusted keys, the `KINDLING_*` keys of update.conf) but nothing uses them.",
    example: "#cloud-config\ncoreos:\n  update:\n    check-interval: 2h\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 2h\n",
};

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
    if !update_engine {
        return;
    }
    let settings: [(&str, Option<Span>); 5] = [
        ("signing-keys", u.signing_keys.as_ref().map(|s| s.key_span)),
        ("health-check", u.health_check.as_ref().map(|s| s.key_span)),
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
        let Some(span) = span else {
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
