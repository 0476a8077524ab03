//! `kindling::locksmith::window-start`: `coreos.locksmith.window-start` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-start",
    severity: Severity::Error,
    summary: "a reboot window start that is not `[<day> ]H:MM`",
    help: "write the start as H:MM (daily) or `Day H:MM` (weekly), e.g. `Sun 4:00`; days are sun, mon, tue, wed, thu, fri, sat",
    explanation: "locksmithd opens its reboot window at `window-start`: a time of day (`4:00`), \
or a three-letter day and a time (`Thu 23:30`) for a weekly window. The day names are exactly \
three letters in any case; hours run 0-23 and minutes 0-59, leading zeros allowed. locksmithd \
refuses to start with anything else.",
    example: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Tues 4:00\n    window-length: 1h\n",
    fixed: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Tue 4:00\n    window-length: 1h\n",
};
