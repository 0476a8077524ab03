//! `kindling::update::maintenance-window`: the maintenance window extension's settings.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::maintenance-window",
    severity: Severity::Error,
    summary: "a maintenance window without a valid calendar, or at odds with the rest of the config",
    help: "give `calendar:` a systemd calendar expression, e.g. `*-*-* 05,06:00,30:00` or `Sun 04:00`",
    explanation: "`coreos.update.maintenance-window` (a kindling extension) compiles to the \
update-window recipe: a timer on `calendar` runs a script that reboots only when an update is \
staged, through the reboot lock when etcd runs, else after a random delay of up to \
`random-delay` seconds. The calendar is checked as systemd 252 checks `OnCalendar=` (the error \
points at the offending character). The window sets `REBOOT_STRATEGY=off`, so another \
`reboot-strategy` would be overridden (a warning), and hand-written `update-window.service` or \
`.timer` units would collide with the generated ones (an error).",
    example: "#cloud-config\ncoreos:\n  update:\n    maintenance-window:\n      calendar: \"*-*-* 25:00\"\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    maintenance-window:\n      calendar: \"*-*-* 05:00\"\n",
};
