//! `kindling::update::maintenance-window`: the maintenance window extension's settings.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::maintenance-window",
    severity: Severity::Error,
    summary: "a maintenance window without a valid calendar, or at odds with the rest of the config",
    help: "give `calendar:` a systemd calendar expression, e.g. `*-*-* 05,06:00,30:00` or `Sun 04:00`",
    explanation: "`coreos.update.maintenance-window` (a kindling extension) says when a staged \
update may be rebooted into: after each elapse of the systemd calendar expression `calendar`, \
for `length` (a time span, default 1h). With the kindling agent (`agent: kindling`) the window \
is the agent's own check: update.conf gets `KINDLING_MAINTENANCE_WINDOW`, \
`KINDLING_MAINTENANCE_WINDOW_LENGTH` and the strategy (the config's, `best-effort` when unset: \
the reboot lock when etcd runs on the node, else a random delay of up to `random-delay` \
seconds); the agent waits for the lock only inside the window, checks the window again once the \
lock is taken (giving the slot back and waiting for the next window when it closed), and gives \
the slot back after the next boot's health check. Without the agent (update_engine kept) it \
compiles to the update-window recipe: a timer on `calendar` runs a script that reboots only \
when an update is staged, through `locksmithctl reboot` when etcd runs, else after the random \
delay; that recipe sets `REBOOT_STRATEGY=off`, so another `reboot-strategy` would be \
overridden (a warning), and hand-written `update-window.service` or `.timer` units would \
collide with the generated ones (an error). The calendar is checked as systemd 252 checks \
`OnCalendar=` (the error points at the offending character).",
    example: "#cloud-config\ncoreos:\n  update:\n    maintenance-window:\n      calendar: \"*-*-* 25:00\"\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    maintenance-window:\n      calendar: \"*-*-* 05:00\"\n",
};
