//! `kindling::update::health-check`: what the kindling agent checks before it marks an
//! update good.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::health-check",
    severity: Severity::Error,
    summary: "a health check with a unit that is not a unit name, a command on several lines, or nothing to check",
    help: "list full unit names (`docker.service`) under `units:` and a one-line shell command under `command:`",
    explanation: "`coreos.update.health-check` (a kindling extension) says when a node that booted \
into an update is healthy: every unit under `units` is active and `command` (run with \
`/bin/sh -c`) exits 0. Only then does the kindling agent mark the new slot good; otherwise it \
rolls back. Both become update.conf lines (`KINDLING_HEALTH_UNITS=` with the unit names \
separated by blanks, `KINDLING_HEALTH_COMMAND=` with the command verbatim), so a unit must be \
a full unit name with its suffix and the command must fit on one line (join lines with `&&` or \
`;`). A health check with neither checks nothing (a warning).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    health-check:\n      units: [docker]\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    health-check:\n      units: [docker.service]\n",
};
