//! `kindling::write-files::under-coreos`: `write_files` placed under `coreos:`.

use crate::diagnostic::{Rule, Severity};

/// The rule (reported by the structure walk instead of an unknown-key finding).
pub static RULE: Rule = Rule {
    code: "kindling::write-files::under-coreos",
    severity: Severity::Warning,
    summary: "write_files is under coreos:, where the node ignores it",
    help: "move write_files to the top level (no indentation)",
    explanation: "`write_files` is a top-level key. Indented under `coreos:` it is an unknown key \
there and no file is written. coreos-cloudinit reports this twice (an unknown key and an info); \
kindling reports it once, as a warning.",
    example: "#cloud-config\ncoreos:\n  write_files:\n    - path: /etc/motd\n      content: hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
};
