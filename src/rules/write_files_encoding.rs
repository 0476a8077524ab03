//! `kindling::write-files::encoding`: `write_files[].encoding` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::encoding",
    severity: Severity::Error,
    summary: "an unknown content encoding",
    help: "use base64, b64, gz, gzip, gz+base64, gzip+base64, gz+b64 or gzip+b64",
    explanation: "`encoding` says how `content` is encoded. `gz`/`gzip` expect raw gzip bytes, \
which in YAML means `content: !!binary ...`; base64 text of gzip data is `gzip+base64`.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base-64\n    content: aGkK\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: aGkK\n",
};
