//! `kindling::substitution::variable`: `$private_ipv4`-style variables.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity, Span};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::substitution::variable",
    severity: Severity::Warning,
    summary: "a $public_ipv4-style variable, which becomes an empty string on nodes without that metadata",
    help: "make sure every node's metadata provides it, or compile per node with kindling compile --var",
    explanation: "coreos-cloudinit replaces `$public_ipv4`, `$private_ipv4`, `$public_ipv6` and \
`$private_ipv6` everywhere in the file with the node's addresses from its cloud metadata, and \
with an empty string where the metadata has none (bare metal, many private clouds), silently \
turning `--listen=$private_ipv4:2379` into `--listen=:2379`. `kindling compile` takes the values \
per node with `--var` and refuses to compile without them.",
    example: "#cloud-config\ncoreos:\n  fleet:\n    public-ip: $private_ipv4\n",
    fixed: "#cloud-config\ncoreos:\n  fleet:\n    public-ip: 10.0.0.5\n",
};

/// Report each variable once, at its first use.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let text = &cx.source.text;
    for var in crate::compile::VARIABLES {
        let needle = format!("${var}");
        let uses: Vec<usize> = text
            .match_indices(&needle)
            .map(|(i, _)| i)
            .filter(|&i| i == 0 || text.as_bytes()[i - 1] != b'\\')
            .collect();
        if let Some(&first) = uses.first() {
            let times = if uses.len() == 1 {
                String::new()
            } else {
                format!(" (used {} times)", uses.len())
            };
            out.push(RULE.at(
                Span::new(first, first + needle.len()),
                format!("{needle} is empty on nodes whose metadata has no {var}{times}"),
            ));
        }
    }
}
