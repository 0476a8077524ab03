//! `kindling::template::render`: a template that parses but fails while rendering.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::render",
    severity: Severity::Error,
    summary: "the template fails while rendering (an unknown filter, a wrong type, a missing include)",
    help: "fix the expression at this position for the values the node has",
    explanation: "Some mistakes only show when a node's values meet the template: a filter \
that does not exist, `+` between a string and a number, iterating over a value that is not a \
list, an `{% include %}` whose file is missing. The finding points at the expression and names \
the node; with an inventory it lists every node it happens on.",
    example: "## template: jinja\n#cloud-config\n{% set name = \"web-01\" %}\nhostname: {{ name | upcase }}\n",
    fixed: "## template: jinja\n#cloud-config\n{% set name = \"web-01\" %}\nhostname: {{ name | upper }}\n",
};
