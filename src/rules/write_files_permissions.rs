//! `kindling::write-files::permissions`: `write_files[].permissions` values.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::permissions",
    severity: Severity::Error,
    summary: "file permissions that are not a 3- or 4-digit octal mode",
    help: "write the mode in octal, e.g. '0644' or '0755' (quoting is optional)",
    explanation: "`permissions` is always read as octal text, with or without a leading zero: \
`0644`, `644` and `'0644'` are the same mode. Symbolic modes (`rwxr--r--`), digits 8 and 9, \
and more than four digits are refused, as on the node.",
    example: "#cloud-config\nwrite_files:\n  - path: /opt/bin/run\n    permissions: rwxr-xr-x\n    content: echo hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/run\n    permissions: '0755'\n    content: echo hi\n",
};
