//! `kindling::units::missing-exec-start`: a service systemd refuses to load for want of
//! a command.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::missing-exec-start",
    severity: Severity::Error,
    summary: "a service without ExecStart= that systemd refuses to load",
    help: "add ExecStart= (or, for Type=oneshot, ExecStop= with RemainAfterExit=yes)",
    explanation: "systemd refuses a service with no `ExecStart=`, `ExecStop=` or `SuccessAction=`; \
one without `ExecStart=` unless it is `Type=oneshot`; and one without `ExecStart=` and \
`SuccessAction=` unless it has `RemainAfterExit=yes`. The unit's own text and the config's \
drop-ins for it are read together, as systemd merges them.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: noop.service\n      content: |\n        [Service]\n        Type=simple\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: noop.service\n      content: |\n        [Service]\n        Type=simple\n        ExecStart=/usr/bin/sleep infinity\n",
};
