//! `kindling::source::multipart-malformed`: multipart user-data that cannot be split.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::multipart-malformed",
    severity: Severity::Error,
    summary: "multipart MIME user-data that cannot be read: boundary, encoding or limits",
    help: "generate the file again with `cloud-init devel make-mime` or Python's `email` package",
    explanation: "A multipart user-data is refused whole, as Flatcar's coreos-cloudinit refuses it \
(no part runs, only the metadata is applied at boot): a boundary that no part uses, a missing \
closing boundary (a truncated download), a `base64` part that does not decode, a gzip part that \
does not unpack, a part that is not UTF-8, a `text/x-shellscript` part that does not start with \
`#!`. kindling also bounds what coreos-cloudinit does not: at most 100 parts, multipart nesting \
at most 4 deep, and at most 16 MiB of decoded part bodies in all (a gzip bomb stops there).",
    example: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--YY\nContent-Type: text/cloud-config\n\nhostname: node1\n--YY--\n",
    fixed: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nhostname: node1\n--XX--\n",
};
