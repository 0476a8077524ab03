//! `kindling::units::exec-not-executable`: a unit runs a file the config writes without
//! an executable mode.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::exec-not-executable",
    severity: Severity::Error,
    summary: "a unit's Exec*= command is a file that write_files writes without an executable mode",
    help: "give the file an executable mode, e.g. permissions: '0755'",
    explanation: "A `write_files` entry without `permissions` is written 0644. When a unit's \
`ExecStart=` (or `ExecStartPre=`, `ExecStop=`, ...) runs that file, systemd fails with \
`Permission denied` (status 203/EXEC) every time.",
    example: "#cloud-config\nwrite_files:\n  - path: /opt/bin/backup\n    content: |\n      #!/bin/sh\n      tar czf /var/backup.tgz /etc\ncoreos:\n  units:\n    - name: backup.service\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStart=/opt/bin/backup\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/backup\n    permissions: '0755'\n    content: |\n      #!/bin/sh\n      tar czf /var/backup.tgz /etc\ncoreos:\n  units:\n    - name: backup.service\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStart=/opt/bin/backup\n",
};
