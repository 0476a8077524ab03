//! `kindling::yaml::limits`: nesting or alias expansion beyond what any config needs.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::yaml::limits",
    severity: Severity::Error,
    summary: "the YAML nests too deep or its aliases expand too far",
    help: "a cloud-config needs a few levels of nesting and few aliases; simplify the document",
    explanation: "Deeply nested documents and alias bombs (an anchor referring to anchors that \
refer to anchors) make parsers use unbounded memory and time. kindling stops at 128 levels of \
nesting and at 100,000 nodes added by aliases, and says so, instead of hanging.",
    example: "#cloud-config\na: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
    fixed: "#cloud-config\na: &a [x, x]\nb: [*a, *a]\n",
};
