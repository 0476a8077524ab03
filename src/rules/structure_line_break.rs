//! `kindling::structure::line-break`: a value that becomes one line of a file contains a
//! line break.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::line-break",
    severity: Severity::Error,
    summary: "a value that becomes an environment or update.conf line contains a line break",
    help: "write the value on one line (a `|` or `>` block keeps line breaks)",
    explanation: "The `coreos.update`, `locksmith`, `etcd`, `etcd2`, `fleet` and `flannel` keys \
each become one `KEY=value` line (update.conf, an `Environment=` line of a drop-in, flannel's \
options file). A line break in the value would end the line early and turn the rest into a \
line of its own, which the node then misreads.",
    example: "#cloud-config\ncoreos:\n  locksmith:\n    group: |\n      workers\n      extra\n",
    fixed: "#cloud-config\ncoreos:\n  locksmith:\n    group: workers\n",
};
