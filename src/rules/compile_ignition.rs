//! `kindling::compile::ignition`: what an Ignition v3.3 config cannot express.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::compile::ignition",
    severity: Severity::Error,
    summary: "something the Ignition target cannot express",
    help: "change the config, or compile to a tree (`--target tree`) and apply it with kindling",
    explanation: "Ignition runs once, in the initramfs, before any unit starts. Ignition spec 3.3 \
cannot set setuid, setgid or sticky bits (an error), and unit commands other than starting one \
(`stop`, `reload`, `try-restart`, ...) mean nothing at first boot (a warning; they are left \
out). Starting commands become enabled units, runtime units are written under /etc, and files \
under /run are created at boot by systemd-tmpfiles.",
    example: "#cloud-config\nwrite_files:\n  - path: /opt/bin/tool\n    permissions: '4755'\n    content: x\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/tool\n    permissions: '0755'\n    content: x\n",
};
