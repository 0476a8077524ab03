//! `kindling::update::check-timing`: when the kindling agent checks for updates.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::check-timing",
    severity: Severity::Error,
    summary: "a check-interval, first-check-delay or check-jitter that is not a usable time span",
    help: "write a systemd time span, e.g. `1h`, `45min`, `10min 30s` (a bare number is seconds)",
    explanation: "`check-interval`, `first-check-delay` and `check-jitter` of `coreos.update` \
(kindling extensions) set when the kindling agent checks for updates: the first check \
`first-check-delay` after the agent starts, then every `check-interval`, each wait lengthened \
by a random delay of up to `check-jitter`. Each is a systemd time span, read as \
`systemd-analyze timespan` reads it (units us, ms, s, min, h, d, w, M, y and their long \
forms; a bare number is seconds), and written to update.conf in whole seconds, rounded up. \
`infinity` is refused, and so is a `check-interval` of zero (the agent would check without \
pause).",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 1 hour and a half\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    check-interval: 1h 30min\n",
};
