//! `kindling::write-files::read-only`: a file under the read-only /usr.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::read-only",
    severity: Severity::Error,
    summary: "a file under /usr, which is read-only on CoreOS-style nodes",
    help: "write it under /opt (e.g. /opt/bin, which is on PATH), /etc or /var instead",
    explanation: "/usr is a read-only, verified partition on image-based nodes; writing there \
fails. The path is cleaned first (`/tmp/../usr/x` is under /usr). Unlike coreos-cloudinit, \
kindling compares whole path components, so `/usrlocal/x` and `/usr-data/x` are not flagged.",
    example: "#cloud-config\nwrite_files:\n  - path: /usr/local/bin/hello\n    permissions: '0755'\n    content: echo hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/hello\n    permissions: '0755'\n    content: echo hi\n",
};
