//! `kindling::locksmith::window-pair`: a reboot window needs both a start and a length
//! that fits the period.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-pair",
    severity: Severity::Error,
    summary: "a reboot window with a start but no length (or the reverse), or a length longer than its period",
    help: "set both window-start and window-length; keep a daily window under 24h and a weekly one under 7 days",
    explanation: "locksmithd refuses to start when only one of `REBOOT_WINDOW_START` and \
`REBOOT_WINDOW_LENGTH` is set, and when the length is not shorter than the window's period \
(24 hours for a daily window, 7 days for a weekly one). On the node that means no reboot \
coordination at all.",
    example: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Sun 4:00\n",
    fixed: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: Sun 4:00\n    window-length: 2h\n",
};
