//! `kindling::update::no-signing-keys`: the kindling agent without a key to trust.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_no_signing_keys`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::update_no_signing_keys::RULE;

/// Check that the agent has a key.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    let u = &update.value;
    let Some(agent) = u.agent.as_ref().filter(|_| u.kindling_agent()) else {
        return;
    };
    if u.signing_keys().next().is_none() {
        out.push(RULE.at(
            agent.span,
            "the kindling agent has no signing-keys to verify updates with",
        ));
    }
}
