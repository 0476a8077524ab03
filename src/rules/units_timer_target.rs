//! `kindling::units::timer-target`: a timer whose unit the config does not define.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::timer-target",
    severity: Severity::Warning,
    summary: "a timer that activates a unit neither the config nor the image defines",
    help: "add the unit the timer activates (NAME.service, or the one named by Unit=) to coreos.units",
    explanation: "A timer activates `Unit=`, or by default the service with the timer's own name \
(`backup.timer` starts `backup.service`). When the config defines neither and the image does \
not ship it, the timer fires into nothing: systemd logs a failure at each elapse.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: backup.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=daily\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: backup.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=daily\n    - name: backup.service\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStart=/opt/bin/backup\n",
};

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
    for doc in cx
        .units
        .iter()
        .filter(|d| d.drop_in.is_none() && d.name.ends_with(".timer"))
    {
        let target = doc
            .text
            .last("Timer", "Unit")
            .map(str::to_string)
            .unwrap_or_else(|| format!("{}.service", doc.name.trim_end_matches(".timer")));
        let defined = cx.config.units().any(|u| u.value.name() == target);
        let image = IMAGE_UNITS.contains(&target.as_str()) || target.starts_with("systemd-");
        if !defined && !image {
            let span = doc
                .unit
                .value
                .name
                .as_ref()
                .map_or(doc.unit.span, |n| n.span);
            out.push(RULE.at(
                span,
                format!(
                    "{} activates {target}, which this config does not define",
                    doc.name
                ),
            ));
        }
    }
}
