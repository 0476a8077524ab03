//! `kindling::template::limits`: a render stopped for using too much time, depth or output.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::limits",
    severity: Severity::Error,
    summary: "the render was stopped: too many steps, too deep a recursion, or too much output",
    help: "a cloud-config needs a few thousand steps; look for a loop or recursion that never ends",
    explanation: "Every render runs with a budget, so a template cannot hang kindling or eat \
its memory: minijinja's fuel (about two million instructions, which also bounds the memory \
values may take), a recursion limit for macros and includes (100 levels), parser nesting \
limits, and a cap of 16 MiB on the rendered text (a node's user-data is far smaller; most \
clouds take at most 64 KiB). A render that hits one stops with this error at the expression \
that was running.",
    example: "## template: jinja\n#cloud-config\n{% for i in range(100000) %}{% for j in range(100000) %}#{% endfor %}{% endfor %}\n",
    fixed: "## template: jinja\n#cloud-config\n{% for i in range(3) %}\n# peer {{ i }}\n{% endfor %}\n",
};
