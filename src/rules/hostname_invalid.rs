//! `kindling::hostname::invalid`: a hostname the node cannot set, from user-data or from a
//! datasource's metadata.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::hostname::invalid",
    severity: Severity::Error,
    summary: "a hostname that is not RFC 1123 labels of at most 64 bytes",
    help: "use letters, digits and `-` in labels of 1 to 63 bytes joined by `.`, at most 64 bytes in all",
    explanation: "A hostname is written to /etc/hostname and handed to `hostnamectl set-hostname`. \
kindling accepts only what systemd accepts as a hostname: labels of ASCII letters, digits and \
`-` (not at either end of a label), 1 to 63 bytes each, joined by `.`, at most 64 bytes in all \
(`HOST_NAME_MAX`). Anything else (a path such as `../../etc/x`, a `/`, a blank, an \
underscore, a non-ASCII or invalid UTF-8 byte) is refused where it enters: `validate` and \
`compile` report it in user-data, and at boot a metadata hostname that is not valid is not set \
(the rest of the metadata is applied and the run ends with status 1). coreos-cloudinit passes \
any text on, so a hostile metadata service could name a file. A metadata hostname longer than \
64 bytes is first cut at its first dot (Flatcar's rule); only then is it checked.",
    example: "#cloud-config\nhostname: \"../../etc/x\"\n",
    fixed: "#cloud-config\nhostname: node-1\n",
};
