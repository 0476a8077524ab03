//! `kindling::template::undefined`: a variable the node's values do not define.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::undefined",
    severity: Severity::Error,
    summary: "the template uses a variable that is not defined for the node",
    help: "define it in --vars or the inventory, pass --var NAME=VALUE, or give a default: {{ name | default(\"…\") }}",
    explanation: "kindling renders templates with strict undefined: using a variable (or an \
attribute of one) that the node's values do not define is an error naming the variable, the \
node and the position, and nothing is rendered for that node. cloud-init instead renders \
`CI_MISSING_JINJA_VAR/<name>` into the config with a warning in a log on the node, which \
becomes a broken unit or a wrong hostname that only shows up at boot. With an inventory the \
same missing variable is reported once with the nodes it affects. `{% if x is defined %}` and \
the `default` filter test for a value without failing.",
    example: "## template: jinja\n#cloud-config\n{% set hostname = \"web-01\" %}\nhostname: {{ hostnmae }}\n",
    fixed: "## template: jinja\n#cloud-config\n{% set hostname = \"web-01\" %}\nhostname: {{ hostname }}\n",
};
