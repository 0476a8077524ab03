//! `kindling::update::agent`: which agent keeps the node updated.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::model::ValueRule;
use crate::model::config::{AGENT_KINDLING, AGENT_UPDATE_ENGINE};
use crate::plan::AGENT_UNIT;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::agent",
    severity: Severity::Error,
    summary: "an unknown update agent, or a unit that collides with the kindling agent's",
    help: "write `agent: kindling` or `agent: update-engine` (the default)",
    explanation: "`coreos.update.agent` (a kindling extension) chooses what keeps the node \
updated. `update-engine` (the default) changes nothing. `kindling` writes \
`/etc/systemd/system/kindling-agent.service` (enabled, running `/opt/bin/kindling agent run`) \
and masks `update-engine.service` and `locksmithd.service`, which the agent replaces; the agent \
reads `/etc/coreos/update.conf` as update_engine does, plus its own `KINDLING_*` keys. A \
`coreos.units` entry that writes or masks `kindling-agent.service` itself would replace the \
generated unit (give it a drop-in instead).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling-agent\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n",
};

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    if text == AGENT_KINDLING || text == AGENT_UPDATE_ENGINE {
        return Ok(());
    }
    let lower = text.to_ascii_lowercase().replace('_', "-");
    let near = |word: &str| lower.contains(word) || crate::suggest::distance(&lower, word) <= 3;
    let hint = if near(AGENT_KINDLING) {
        format!("; did you mean {AGENT_KINDLING}?")
    } else if near(AGENT_UPDATE_ENGINE) || lower.contains("engine") {
        format!("; did you mean {AGENT_UPDATE_ENGINE}?")
    } else {
        String::new()
    };
    Err(format!(
        "{text:?} is not an update agent ({AGENT_KINDLING} or {AGENT_UPDATE_ENGINE}){hint}"
    ))
}

/// Hand-written units that would replace the generated one.
pub fn check_units(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(agent) = cx
        .config
        .update()
        .and_then(|u| u.value.agent.as_ref())
        .filter(|a| a.value == AGENT_KINDLING)
    else {
        return;
    };
    for unit in cx.config.units() {
        let u = &unit.value;
        if u.name() != AGENT_UNIT {
            continue;
        }
        let replaces = u.content.as_ref().is_some_and(|c| !c.value.text.is_empty());
        let masks = crate::model::Unit::flag(u.mask.as_ref());
        if replaces || masks {
            let what = if masks { "masks" } else { "replaces" };
            out.push(
                RULE.at(
                    u.name.as_ref().map_or(unit.span, |n| n.span),
                    format!("this entry {what} {AGENT_UNIT}, which agent: kindling generates"),
                )
                .with_related(agent.span, "generated from here")
                .with_help(format!(
                    "give {AGENT_UNIT} a drop-in (drop-ins:) instead, or remove agent: kindling"
                )),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values() {
        assert!(super::check("kindling").is_ok());
        assert!(super::check("update-engine").is_ok());
        assert!(
            super::check("Kindling")
                .unwrap_err()
                .contains("did you mean kindling")
        );
        assert!(
            super::check("update_engine")
                .unwrap_err()
                .contains("did you mean update-engine")
        );
        assert!(
            super::check("kindlin")
                .unwrap_err()
                .contains("did you mean kindling")
        );
        assert!(
            !super::check("locksmith")
                .unwrap_err()
                .contains("did you mean")
        );
    }
}
