//! `kindling::reader::ignored`: a key the node's reader (`validate --for`) ignores.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::reader::ignored",
    severity: Severity::Warning,
    summary: "a kindling extension that the chosen reader (coreos-cloudinit) drops without a word",
    help: "let kindling read the config: start kindling from a cloud-config coreos-cloudinit \
understands (a unit that runs `kindling apply` on this file, see the install page), or remove \
the key",
    explanation: "`kindling validate --for coreos-cloudinit` checks a config for a node whose own \
coreos-cloudinit reads it (a stock Flatcar or CoreOS). coreos-cloudinit knows none of kindling's \
extensions (`coreos.update.agent`, `signing-keys`, `health-check`, `check-interval`, \
`first-check-delay`, `check-jitter`, `maintenance-window`, `proxy`, ...): it logs an unknown key \
and goes on, so the node boots without them. With `agent: kindling` that means no agent ever \
starts. The kindling-based way: a small cloud-config that coreos-cloudinit does understand \
installs kindling and starts `kindling apply` (or `kindling boot-apply`) on the full config, \
which then applies the rest, extensions included. Without `--for`, validate checks for the \
reader the file declares (Ignition for an Ignition config, else kindling), which reads them.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: reboot\n",
};
