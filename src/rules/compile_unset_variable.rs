//! `kindling::compile::unset-variable`: a `$public_ipv4`-style variable with no value.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::compile::unset-variable",
    severity: Severity::Error,
    summary: "the config uses $public_ipv4-style variables that compile was not given",
    help: "pass the node's values, e.g. `kindling compile --var private_ipv4=10.0.0.5`, or escape the dollar as \\$",
    explanation: "coreos-cloudinit replaces `$public_ipv4`, `$private_ipv4`, `$public_ipv6` and \
`$private_ipv6` in the whole text with the node's addresses from its metadata, and with an \
empty string when the metadata has none, which silently breaks the units that use them. \
kindling compiles ahead of time, per node, so it needs the values: give each with `--var`. \
`\\$private_ipv4` stays a literal `$private_ipv4`.",
    example: "#cloud-config\ncoreos:\n  fleet:\n    public-ip: $private_ipv4\n",
    fixed: "#cloud-config\ncoreos:\n  fleet:\n    public-ip: 10.0.0.5\n",
};
