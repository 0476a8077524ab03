//! `kindling::users::missing-name`: a user without a name.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::users::missing-name",
    severity: Severity::Error,
    summary: "a users entry without a name; the node skips it",
    help: "add `name:` with the login name",
    explanation: "coreos-cloudinit logs `User object has no 'name' field, skipping` and creates \
nothing, so the keys and groups of that entry are lost.",
    example: "#cloud-config\nusers:\n  - groups: [docker]\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAA\n",
    fixed: "#cloud-config\nusers:\n  - name: alice\n    groups: [docker]\n    ssh_authorized_keys:\n      - ssh-ed25519 AAAA\n",
};
