//! `kindling::units::drop-in-incomplete`: a drop-in without a name or content.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::drop-in-incomplete",
    severity: Severity::Error,
    summary: "a drop-in without a name or without content; the node skips it",
    help: "give every drop-in both `name:` (ending in .conf) and `content:`",
    explanation: "coreos-cloudinit writes a drop-in only when it has both a name and content, and \
silently skips it otherwise.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - content: |\n            [Service]\n            Environment=DOCKER_OPTS=--debug\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - name: 50-debug.conf\n          content: |\n            [Service]\n            Environment=DOCKER_OPTS=--debug\n",
};

/// Check every drop-in.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        for drop_in in unit.value.drop_ins() {
            let d = &drop_in.value;
            let no_name = d.name.as_ref().is_none_or(|n| n.value.is_empty());
            let no_content = d.content.as_ref().is_none_or(|c| c.value.text.is_empty());
            let what = match (no_name, no_content) {
                (true, true) => "this drop-in has neither a name nor content",
                (true, false) => "this drop-in has no name",
                (false, true) => "this drop-in has no content",
                (false, false) => continue,
            };
            out.push(RULE.at(drop_in.span, what));
        }
    }
}
