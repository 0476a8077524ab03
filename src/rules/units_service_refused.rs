//! `kindling::units::service-refused`: settings that make systemd refuse a service.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::service-refused",
    severity: Severity::Error,
    summary: "a service systemd refuses to load: Type=dbus without BusName=, Type=oneshot with Restart=always, several ExecStart= outside oneshot",
    help: "fix the combination systemd refuses; the unit is not loaded at all",
    explanation: "Some combinations make systemd refuse the whole service (`Unit ... has a bad \
unit file setting`): `Type=dbus` without `BusName=`; `Type=oneshot` with `Restart=always` or \
`Restart=on-success`; more than one `ExecStart=` unless `Type=oneshot`. The unit's text and the \
config's drop-ins for it are read together, as systemd merges them (an empty `ExecStart=` \
clears the list).",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: job.service\n      content: |\n        [Service]\n        Type=oneshot\n        Restart=always\n        ExecStart=/usr/bin/true\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: job.service\n      content: |\n        [Service]\n        Type=oneshot\n        Restart=on-failure\n        ExecStart=/usr/bin/true\n",
};
