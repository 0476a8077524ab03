//! `kindling::yaml::duplicate-key`: a key set twice in one mapping.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::yaml::duplicate-key",
    severity: Severity::Warning,
    summary: "a key appears twice in the same mapping; the last one wins",
    help: "remove one of the two; only the last one is used",
    explanation: "go-yaml v1 silently keeps the last of two equal keys, so the first one is \
ignored without a word. Because `-` and `_` are interchangeable, `reboot-strategy` and \
`reboot_strategy` in one mapping are the same key too. kindling points at the ignored one.",
    example: "#cloud-config\ncoreos:\n  update:\n    group: stable\n    group: beta\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    group: beta\n",
};
