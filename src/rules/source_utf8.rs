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
    example: "$ printf '#cloud-config\\nhostname: caf\\xe9\\n' > latin1.yaml\n$ kindling validate latin1.yaml\n  × byte 27 is not valid UTF-8\n",
    fixed: "$ iconv -f latin1 -t utf-8 latin1.yaml > utf8.yaml\n$ kindling validate utf8.yaml\n1 file: 0 errors, 0 warnings, 0 infos\n",
};
