//! `kindling::substitution::variable`: `$private_ipv4`-style variables.

use crate::diagnostic::{Rule, Severity};

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
