//! `kindling::update::agent-setting-ignored`: a kindling agent setting without the agent.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::agent-setting-ignored",
    severity: Severity::Warning,
    summary: "a setting of the kindling agent, but update-engine keeps the node updated",
    help: "add `agent: kindling` to coreos.update, or remove the setting",
    explanation: "`signing-keys`, `health-check`, `reboot-hooks`, `check-interval`, \
`first-check-delay` and `check-jitter` (kindling extensions) are read only by the kindling \
agent (`health-check` and `reboot-hooks` by kindling's reboot manager too). Without \
`agent: kindling` (or `agent: reboot-manager`) the node keeps update-engine and locksmithd, \
which ignore them: they are still written (the trusted keys, the `KINDLING_*` keys of \
update.conf) but nothing uses them.",
    example: "#cloud-config\ncoreos:\n  update:\n    check-interval: 2h\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 2h\n",
};
