//! `kindling::source::multipart`: multipart MIME user-data, read part by part.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::multipart",
    severity: Severity::Info,
    summary: "multipart MIME user-data: Flatcar's coreos-cloudinit reads it part by part, CoreOS's does not",
    help: "for nodes still on CoreOS Container Linux, send the #cloud-config part on its own",
    explanation: "A `Content-Type: multipart/mixed` user-data (what `cloud-init devel make-mime` or \
Python's `email` package writes) is split into its parts, as Flatcar's coreos-cloudinit does \
(`initialize/user_data.go`): `text/cloud-config` parts are validated and merged in part order, \
`text/x-shellscript` parts run as user-data scripts at boot, an Ignition part is left to Ignition, \
`base64` transfer encoding and gzip part types are undone. CoreOS Container Linux's \
coreos-cloudinit predates this and rejects the whole user-data, so this is worth knowing when a \
fleet still has such nodes. The finding is also used to note a part that is deliberately not \
applied (an Ignition part).",
    example: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nhostname: node1\n--XX--\n",
    fixed: "#cloud-config\nhostname: node1\n",
};
