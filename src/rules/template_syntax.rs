//! `kindling::template::syntax`: a template that minijinja cannot parse.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::template::syntax",
    severity: Severity::Error,
    summary: "the template is not valid Jinja",
    help: "fix the tag at this position; to keep `{{` or `{%` as text (Go templates, docker --format), wrap it in {% raw %}…{% endraw %}",
    explanation: "The template is parsed once, before any node is rendered, so a syntax error \
is reported once at its own line and column and no node is rendered. A common cause in \
cloud-configs is text that only looks like Jinja: `docker inspect --format '{{ .State.Pid }}'` \
is a Go template meant for the node, and must be wrapped in `{% raw %}` … `{% endraw %}`.",
    example: "## template: jinja\n#cloud-config\n{% set name = \"web-01\" %}\nhostname: {{ name }\n",
    fixed: "## template: jinja\n#cloud-config\n{% set name = \"web-01\" %}\nhostname: {{ name }}\n",
};
