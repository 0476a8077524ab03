//! `kindling::units::command`: `coreos.units[].command` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::command",
    severity: Severity::Error,
    summary: "a unit command that is not a systemctl verb coreos-cloudinit runs",
    help: "use start, stop, restart, reload, try-restart, reload-or-restart or reload-or-try-restart",
    explanation: "`command` is passed to systemd after the unit is written. Only the seven verbs \
above are allowed; enabling and masking have their own keys (`enable: true`, `mask: true`).",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      command: enable\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      enable: true\n      command: start\n",
};
