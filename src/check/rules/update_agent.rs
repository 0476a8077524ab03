//! `kindling::update::agent`: which agent keeps the node updated.
//!
//! The check of hand-written units that collide with the agent's; the rule itself is
//! [`crate::rules::update_agent`], its value check `model::values::UPDATE_AGENT`.

use super::shared::update_key;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::model::values::{AGENT_KINDLING, AGENT_REBOOT_MANAGER};
use crate::plan::{AGENT_UNIT, REBOOT_MANAGER_UNIT};
use crate::rules::update_agent::RULE;

/// Hand-written units that would replace the generated one.
pub fn check_units(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(agent) = update_key(cx, |u| u.agent.as_ref()) else {
        return;
    };
    let generated = match agent.value.as_str() {
        AGENT_KINDLING => AGENT_UNIT,
        AGENT_REBOOT_MANAGER => REBOOT_MANAGER_UNIT,
        _ => return,
    };
    let value = agent.value.as_str();
    for unit in cx.config.units() {
        let u = &unit.value;
        if u.name() != generated {
            continue;
        }
        let replaces = u.content.as_ref().is_some_and(|c| !c.value.text.is_empty());
        let masks = crate::model::Unit::flag(u.mask.as_ref());
        if replaces || masks {
            let what = if masks { "masks" } else { "replaces" };
            out.push(
                RULE.at(
                    u.name.as_ref().map_or(unit.span, |n| n.span),
                    format!("this entry {what} {generated}, which agent: {value} generates"),
                )
                .with_related(agent.span, "generated from here")
                .with_help(format!(
                    "give {generated} a drop-in (drop-ins:) instead, or remove agent: {value}"
                )),
            );
        }
    }
}
