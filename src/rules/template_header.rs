//! `kindling::template::header`: a `## template:` header naming a renderer kindling lacks.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::header",
    severity: Severity::Error,
    summary: "a `## template:` header that names a renderer other than jinja",
    help: "write the first line as `## template: jinja`, or remove it for a plain #cloud-config",
    explanation: "A first line `## template: jinja` (as cloud-init spells it: `##`, optional \
blanks, `template:` in any case) makes the file a template that kindling renders per node with \
minijinja before it checks the `#cloud-config` it produces. cloud-init also knows a `basic` \
renderer (only `$name` substitution); kindling does not render it, and any other word is an \
error in cloud-init too. coreos-cloudinit itself refuses any file starting with `##`, so a \
template must always be rendered before a node sees it.",
    example: "## template: basic\n#cloud-config\nhostname: $hostname\n",
    fixed: "## template: jinja\n#cloud-config\n{% set hostname = \"web-01\" %}\nhostname: {{ hostname }}\n",
};
