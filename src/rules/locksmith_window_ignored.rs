//! `kindling::locksmith::window-ignored`: a reboot window that the strategy ignores.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::locksmith::window-ignored",
    severity: Severity::Warning,
    summary: "a locksmith reboot window with reboot-strategy reboot or off, where it has no effect",
    help: "use reboot-strategy etcd-lock (or best-effort) for the window to apply, or remove the window",
    explanation: "locksmithd applies `window-start`/`window-length` only when it coordinates the \
reboot: with `reboot-strategy: reboot` it reboots as soon as an update is staged, and with `off` \
locksmithd is masked altogether, so the window does nothing.",
    example: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: reboot\n  locksmith:\n    window-start: Sun 4:00\n    window-length: 2h\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: etcd-lock\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n    window-start: Sun 4:00\n    window-length: 2h\n",
};
