//! `kindling::reader::not-read`: the chosen reader does not read this kind of file at all.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::reader::not-read",
    severity: Severity::Error,
    summary: "the chosen reader (Ignition) does not read this kind of file",
    help: "compile it for Ignition: `kindling compile --target ignition FILE --out DIR`, or \
check it for the reader that reads it (`--for coreos-cloudinit` or `--for kindling`)",
    explanation: "`kindling validate --for ignition` checks a file for a node that reads only \
Ignition. Ignition reads an Ignition config (JSON) and nothing else: a cloud-config, a \
template or a script is skipped (on Flatcar it is left for coreos-cloudinit), so none of it is \
applied by Ignition.",
    example: "#cloud-config\nhostname: web-01\n",
    fixed: "{\"ignition\": {\"version\": \"3.3.0\"}}\n",
};
