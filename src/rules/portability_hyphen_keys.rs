//! `kindling::portability::hyphen-keys`: keys written with `-`, which Flatcar's
//! coreos-cloudinit no longer reads.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::portability::hyphen-keys",
    severity: Severity::Info,
    summary: "keys written with '-' are ignored by Flatcar's coreos-cloudinit (3975.2.0 and later)",
    help: "write the keys with '_' (drop_ins, reboot_strategy, write_files) to work with every coreos-cloudinit",
    explanation: "coreos-cloudinit 1.14 reads `-` and `_` alike in keys, and so does kindling: \
`drop-ins` and `drop_ins`, `reboot-strategy` and `reboot_strategy`, `ssh-authorized-keys` and \
`ssh_authorized_keys` are the same key. Flatcar's fork removed that from its parser in release \
3975.2.0 (its validator still accepts both): there, a key written with `-` is silently dropped \
when the config is applied. Configs that nodes running that fork read directly should use `_`. \
kindling's extensions (`maintenance-window`, `signing-keys`, ...) are left out: no \
coreos-cloudinit reads them in any spelling, only kindling does.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - name: 50-opts.conf\n          content: \"[Service]\\n\"\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop_ins:\n        - name: 50-opts.conf\n          content: \"[Service]\\n\"\n",
};
