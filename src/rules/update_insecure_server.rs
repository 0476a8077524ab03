//! `kindling::update::insecure-server`: an update server reached over plain HTTP.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

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

/// Check the server.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(server) = cx.config.update().and_then(|u| u.value.server.as_ref()) else {
        return;
    };
    if !server.value.is_empty() && !server.value.starts_with("https://") {
        out.push(RULE.at(
            server.span,
            format!("the update server {:?} is not https", server.value),
        ));
    }
}
