//! `kindling::units::command`: `coreos.units[].command` values.

use crate::diagnostic::{Rule, Severity};
use crate::model::ValueRule;

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

/// The verbs.
pub const COMMANDS: [&str; 7] = [
    "start",
    "stop",
    "restart",
    "reload",
    "try-restart",
    "reload-or-restart",
    "reload-or-try-restart",
];

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    if COMMANDS.contains(&text) {
        return Ok(());
    }
    let hint = match text {
        "enable" => "; to enable a unit write `enable: true`".to_string(),
        "mask" => "; to mask a unit write `mask: true`".to_string(),
        _ => COMMANDS
            .iter()
            .find(|c| c.replace('-', "") == text.replace(['-', '_'], "").to_ascii_lowercase())
            .map(|c| format!("; did you mean {c}?"))
            .unwrap_or_default(),
    };
    Err(format!("{text:?} is not a unit command{hint}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn verbs() {
        for ok in super::COMMANDS {
            assert!(super::check(ok).is_ok());
        }
        assert!(
            super::check("tryrestart")
                .unwrap_err()
                .contains("try-restart")
        );
        assert!(super::check("unknown").is_err());
        assert!(super::check("enable").unwrap_err().contains("enable: true"));
    }
}
