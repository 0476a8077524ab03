//! `kindling::update::insecure-server`: an update server reached over plain HTTP.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::insecure-server",
    severity: Severity::Warning,
    summary: "an update server that is not https",
    help: "use an https:// URL for the update server",
    explanation: "update_engine asks `SERVER` which version to install and where to download it. \
Over plain HTTP anyone on the path can answer: withhold updates, or point nodes at an old \
(signed, but vulnerable) release. Payloads are verified, the conversation is not.",
    example: "#cloud-config\ncoreos:\n  update:\n    server: http://updates.example.com/v1/update/\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    server: https://updates.example.com/v1/update/\n",
};
