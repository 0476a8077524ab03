//! `kindling::units::enable-without-install`: `enable: true` on a unit that cannot be
//! enabled.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::enable-without-install",
    severity: Severity::Warning,
    summary: "enable: true on a unit whose text has no [Install] section",
    help: "add an [Install] section (e.g. WantedBy=multi-user.target), or use command: start",
    explanation: "Enabling a unit creates the links its `[Install]` section asks for (`WantedBy=`, \
`RequiredBy=`, `Alias=`, `Also=`). Without one, `systemctl enable` does nothing and \
coreos-cloudinit does not say so: the unit does not start at boot.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n\n        [Install]\n        WantedBy=multi-user.target\n",
};
