//! `kindling::source::utf8`: a cloud-config that is not valid UTF-8.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::utf8",
    severity: Severity::Error,
    summary: "the cloud-config is not valid UTF-8",
    help: "save the file as UTF-8; put binary data in write_files with `encoding: base64`",
    explanation: "YAML text must be UTF-8; the node's parser stops at the first invalid byte. \
The finding points at that byte.",
    example: "",
    fixed: "",
};
