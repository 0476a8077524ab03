//! `kindling::write-files::undecodable`: content that does not decode in its encoding.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::undecodable",
    severity: Severity::Error,
    summary: "write_files content that cannot be decoded as its encoding says",
    help: "re-encode the content (`base64 -w0 FILE`, `gzip -c FILE | base64 -w0`) or fix `encoding`",
    explanation: "The node decodes `content` by `encoding` before writing it; content that does \
not decode stops the file from being written. base64 is read as Go does: padding required, line \
breaks ignored, nothing else allowed. `!!binary` content must itself be valid base64.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: hello world\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: aGVsbG8gd29ybGQ=\n",
};
