//! `kindling::update::agent`: which agent keeps the node updated (or reboots it).

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::agent",
    severity: Severity::Error,
    summary: "an unknown update agent, or a unit that collides with the kindling agent's",
    help: "write `agent: kindling`, `agent: reboot-manager` or `agent: update-engine` (the default)",
    explanation: "`coreos.update.agent` (a kindling extension) chooses what keeps the node \
updated. `update-engine` (the default) changes nothing. `kindling` writes \
`/etc/systemd/system/kindling-agent.service` (enabled, running `/opt/bin/kindling agent run`) \
and masks `update-engine.service` and `locksmithd.service`, which the agent replaces; the agent \
reads `/etc/coreos/update.conf` as update_engine does, plus its own `KINDLING_*` keys. \
`reboot-manager` keeps update-engine and replaces only locksmithd: it masks \
`locksmithd.service` and writes `kindling-reboot-manager.service` (see \
`kindling::update::reboot-manager`). A `coreos.units` entry that writes or masks the generated \
unit itself would replace it (give it a drop-in instead).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling-agent\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n",
};
