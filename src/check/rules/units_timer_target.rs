//! `kindling::units::timer-target`: a timer whose unit the config does not define.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_timer_target`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_timer_target::RULE;

/// Units that Container Linux and Flatcar images ship (timers may activate them).
pub const IMAGE_UNITS: &[&str] = &[
    "docker.service",
    "containerd.service",
    "etcd-member.service",
    "etcd.service",
    "etcd2.service",
    "fleet.service",
    "flanneld.service",
    "locksmithd.service",
    "update-engine.service",
    "update-engine-stub.service",
    "logrotate.service",
    "sshd.service",
    "ntpd.service",
    "chronyd.service",
    "polkit.service",
    "rkt-gc.service",
    "docker-cleanup.service",
];

/// Check every timer the config defines.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in cx.unit_files(".timer") {
        let target = doc
            .text
            .last("Timer", "Unit")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}.service", doc.name.trim_end_matches(".timer")));
        let defined = cx.config.units().any(|u| u.value.name() == target);
        let image = IMAGE_UNITS.contains(&target.as_str()) || target.starts_with("systemd-");
        if !defined && !image {
            out.push(RULE.at(
                doc.name_span(),
                format!(
                    "{} activates {target}, which this config does not define",
                    doc.name
                ),
            ));
        }
    }
}
