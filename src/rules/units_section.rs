//! `kindling::units::section`: unit-file lines systemd ignores: a section name in the
//! wrong case, or a setting before any section.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::section",
    severity: Severity::Error,
    summary: "a unit-file section systemd does not know, a setting outside any section, or a line without '='",
    help: "section names are case-sensitive: [Unit], [Service], [Install], [Timer] ...",
    explanation: "systemd ignores a section it does not know, with every setting in it: `[unit]` \
is not `[Unit]` (an error: clearly a typo), and a `.service` has no `[Timer]` section (a \
warning). Settings before the first section header, and lines without `=`, are ignored too. \
Sections starting with `X-` are for other tools and are left alone. The finding points at the \
line inside the `content: |` block.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [Unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
};
