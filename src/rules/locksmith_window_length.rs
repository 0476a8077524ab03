//! `kindling::locksmith::window-length`: `coreos.locksmith.window-length` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-length",
    severity: Severity::Error,
    summary: "a reboot window length locksmithd cannot parse",
    help: "write a Go duration such as 1h, 90m or 1h30m (units: h, m, s, ms, us, ns; there is no d)",
    explanation: "locksmithd reads `window-length` with Go's `time.ParseDuration`. \
coreos-cloudinit's validator only checks the shape (`1d` passes), but `d` is not a Go duration \
unit and locksmithd then fails to start. kindling checks what locksmithd checks: the units, that \
the length is not negative, and that it is shorter than a day for a daily window and shorter \
than a week for a weekly one.",
    example: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: 4:00\n    window-length: 1d\n",
    fixed: "#cloud-config\ncoreos:\n  locksmith:\n    window-start: 4:00\n    window-length: 1h\n",
};
