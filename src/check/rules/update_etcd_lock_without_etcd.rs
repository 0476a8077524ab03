//! `kindling::update::etcd-lock-without-etcd`: `reboot-strategy: etcd-lock` with no etcd
//! anywhere in sight.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_etcd_lock_without_etcd`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::update_etcd_lock_without_etcd::RULE;

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
