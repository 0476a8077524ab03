//! `kindling::lint::unused-suppression`: a `# kindling-ignore:` comment that silenced
//! nothing.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::lint::unused-suppression",
    severity: Severity::Warning,
    summary: "a kindling-ignore comment that silences nothing",
    help: "remove the comment, or fix the code it names",
    explanation: "`# kindling-ignore: CODE` silences findings with that code on the same line, \
or, on a line of its own, on the next line (inside a unit's `content: |` block it is a systemd \
comment, so it can sit above the directive it is about). Several codes may be listed, separated \
by commas. A comment that silences nothing is reported, so suppressions do not outlive the \
mistakes they were written for.",
    example: "#cloud-config\nhostname: node1  # kindling-ignore: structure::unknown-key\n",
    fixed: "#cloud-config\nhostnme: node1  # kindling-ignore: structure::unknown-key\n",
};
