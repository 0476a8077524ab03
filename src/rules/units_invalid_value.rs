//! `kindling::units::invalid-value`: a unit-file value systemd cannot parse.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::invalid-value",
    severity: Severity::Error,
    summary: "a unit-file value systemd cannot parse (a boolean, time span, Type=, Restart=, unit name, calendar)",
    help: "write the value in the form systemd expects",
    explanation: "systemd drops a setting whose value it cannot parse (`Failed to parse ..., \
ignoring`) and carries on, so `Restart=sometimes` means no restart at all and a timer whose only \
`OnCalendar=` is invalid never fires. kindling checks booleans (yes/no, true/false, on/off, 1/0), \
time spans (`5min 30s`, `1h`, `infinity`), `Type=`, `Restart=`, `KillMode=`, `NotifyAccess=`, \
unit names in `WantedBy=`/`RequiredBy=`/`Also=`/`Alias=`, and the full calendar grammar of \
`OnCalendar=`, exactly as systemd 252 does.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: backup.timer\n      content: |\n        [Timer]\n        OnCalendar=*-*-* 25:00:00\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: backup.timer\n      command: start\n      content: |\n        [Timer]\n        OnCalendar=*-*-* 23:00:00\n",
};
