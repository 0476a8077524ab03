//! `kindling::update::reboot-manager`: `validate` says what `agent: reboot-manager` does.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_reboot_manager`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::model::values::AGENT_REBOOT_MANAGER;
use crate::plan::REBOOT_MANAGER_UNIT;
use crate::rules::update_reboot_manager::RULE;

/// One finding at `agent: reboot-manager`.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    let Some(agent) = update
        .value
        .agent
        .as_ref()
        .filter(|a| a.value == AGENT_REBOOT_MANAGER)
    else {
        return;
    };
    let strategy = update
        .value
        .reboot_strategy
        .as_ref()
        .map_or("REBOOT_STRATEGY (best-effort when unset)", |s| {
            s.value.as_str()
        });
    out.push(RULE.at(
        agent.span,
        format!(
            "update-engine keeps updating this node; {REBOOT_MANAGER_UNIT} replaces locksmithd (masked) and reboots by strategy {strategy} through logind"
        ),
    ));
}
