//! `kindling::structure::unknown-key`: a key the dialect does not have, with suggestions.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::structure::unknown-key",
    severity: Severity::Warning,
    summary: "a key that coreos-cloudinit does not know; the node ignores it",
    help: "check the spelling and the indentation; unknown keys are ignored on the node",
    explanation: "Nodes ignore keys they do not know, so a typo (`permision`), a key at the \
wrong level (`update:` at the top instead of under `coreos:`) or a key from cloud-init or \
Butane (`runcmd`, `packages`, `systemd`) silently does nothing. kindling suggests the key you \
probably meant: by spelling, and by where the key belongs.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    permision: '0644'\n    content: hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    permissions: '0644'\n    content: hi\n",
};
