//! `kindling::update::etcd-lock-without-etcd`: `reboot-strategy: etcd-lock` with no etcd
//! anywhere in sight.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::etcd-lock-without-etcd",
    severity: Severity::Warning,
    summary: "reboot-strategy etcd-lock without an etcd endpoint or etcd on the node",
    help: "set coreos.locksmith.endpoint, run etcd on the node, or use reboot-strategy: best-effort",
    explanation: "With `etcd-lock`, locksmithd reboots only after taking the reboot lock in etcd. \
When the config names no `locksmith.endpoint` and runs no etcd (`etcd`, `etcd2`, an etcd unit), \
locksmithd tries the default local endpoint forever and the node never reboots into its \
updates. `best-effort` (a kindling extension) falls back to rebooting when etcd is not there.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n",
};

/// Check the strategy.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    let Some(strategy) = update
        .value
        .reboot_strategy
        .as_ref()
        .filter(|s| s.value == "etcd-lock")
    else {
        return;
    };
    let c = cx.config.coreos.as_ref().map(|c| &c.value);
    let endpoint = cx
        .config
        .locksmith()
        .and_then(|l| l.value.endpoint.as_ref())
        .is_some_and(|e| !e.value.is_empty());
    let etcd_section = c.is_some_and(|c| c.etcd.is_some() || c.etcd2.is_some());
    let etcd_unit = cx
        .config
        .units()
        .any(|u| u.value.name().starts_with("etcd"));
    if !(endpoint || etcd_section || etcd_unit) {
        out.push(RULE.at(
            strategy.span,
            "etcd-lock, but the config names no etcd endpoint and runs no etcd",
        ));
    }
}
