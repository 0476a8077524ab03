//! `kindling::units::timer-never-started`: a timer the config writes but nothing starts.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::timer-never-started",
    severity: Severity::Warning,
    summary: "a .timer unit that is written but never started or enabled",
    help: "add `command: start` to the timer (and `enable: true` with an [Install] section to keep it across reboots)",
    explanation: "Writing a timer unit does not activate it. Unless the entry starts it \
(`command: start`), enables it (`enable: true` with `[Install] WantedBy=timers.target`) or another \
unit of the config pulls it in, the timer never fires.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.timer\n      content: |\n        [Timer]\n        OnCalendar=daily\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleanup.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=daily\n",
};
