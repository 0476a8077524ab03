//! `kindling::units::timer-target`: a timer whose unit the config does not define.

use crate::diagnostic::{Rule, Severity};

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
