//! `kindling::source::multipart-skipped`: a part of multipart user-data that is not applied.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::multipart-skipped",
    severity: Severity::Warning,
    summary: "a part of multipart user-data that kindling does not apply",
    help: "declare the part as text/cloud-config or text/x-shellscript, or leave it out",
    explanation: "Only `text/cloud-config` and `text/x-shellscript` parts are applied (and \
`text/plain`, `application/octet-stream`, gzip or untyped parts whose first line is \
`#cloud-config` or `#!`, as cloud-init guesses them; an Ignition part of any type is left to \
Ignition). Any other declared type \
(`text/cloud-boothook`, `text/x-include-url`, `text/jinja2`, ...) is skipped with this warning. \
Flatcar's coreos-cloudinit guesses the type of every unknown part from its content, so it would \
run a `text/cloud-boothook` starting with `#!` as an ordinary script; kindling trusts the declared \
type. A script part is also reported here by `compile`, `apply FILE` and `diff FILE`: scripts \
run only in the boot-time apply (`kindling apply --from-...`).",
    example: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nhostname: node1\n--XX\nContent-Type: text/x-include-url\n\nhttps://example.com/more.yaml\n--XX--\n",
    fixed: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nhostname: node1\n--XX--\n",
};
