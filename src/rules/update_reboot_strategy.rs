//! `kindling::update::reboot-strategy`: `coreos.update.reboot-strategy` values.

use crate::diagnostic::{Rule, Severity};
use crate::model::ValueRule;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::reboot-strategy",
    severity: Severity::Error,
    summary: "an unknown reboot strategy",
    help: "use reboot, etcd-lock, off, or best-effort (a kindling extension)",
    explanation: "`reboot-strategy` says how a node reboots into a downloaded update: `reboot` \
at once, `etcd-lock` after taking the cluster-wide lock, `off` never by itself. kindling adds \
`best-effort`: through the lock when etcd is reachable, else at once. Values are \
case-sensitive. This is the one value coreos-cloudinit checks at apply time: an invalid one \
aborts the whole apply on the node. Unquoted `off` is fine: the dialect keeps the text.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: always\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: reboot\n",
};

/// Every strategy kindling understands.
pub const STRATEGIES: [&str; 4] = ["reboot", "etcd-lock", "off", "best-effort"];

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    if STRATEGIES.contains(&text) {
        return Ok(());
    }
    let lower = text.to_ascii_lowercase();
    if STRATEGIES.contains(&lower.as_str()) {
        return Err(format!(
            "{text:?} is not a reboot strategy; strategies are lowercase: {lower}"
        ));
    }
    match lower.as_str() {
        "false" | "no" | "n" | "none" | "never" | "disabled" => Err(format!(
            "{text:?} is not a reboot strategy; to stop automatic reboots write `off`"
        )),
        "besteffort" | "best_effort" => Err(format!(
            "{text:?} is not a reboot strategy; did you mean best-effort?"
        )),
        "etcd_lock" | "etcdlock" | "lock" => Err(format!(
            "{text:?} is not a reboot strategy; did you mean etcd-lock?"
        )),
        _ => Err(format!("{text:?} is not a reboot strategy")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values() {
        for ok in ["reboot", "etcd-lock", "off", "best-effort"] {
            assert!(super::check(ok).is_ok());
        }
        for bad in ["always", "OFF", "false", "besteffort", "unknown"] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
