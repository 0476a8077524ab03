//! `kindling::units::unknown-directive`: a directive systemd 252 does not know in its
//! section.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::unknown-directive",
    severity: Severity::Warning,
    summary: "a unit-file directive systemd does not know in its section",
    help: "check the spelling and the section; systemd ignores unknown directives",
    explanation: "systemd ignores a directive it does not know, with only a line in the journal: \
`ExecStrat=` never starts anything, and `Restart=` in `[Unit]` restarts nothing. kindling checks \
every directive against systemd 252's own table (per unit type and section, drop-ins included), \
suggests the directive you probably meant, and says which section a known directive belongs to. \
Directives newer than systemd 252 are reported too: silence them with `# kindling-ignore` when \
your nodes run a newer systemd. `X-` directives are for other tools and are left alone.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      content: |\n        [Service]\n        ExecStrat=/usr/bin/echo hello\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n",
};
