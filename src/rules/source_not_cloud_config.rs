//! `kindling::source::not-cloud-config`: the first line is not `#cloud-config` or `#!`.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::not-cloud-config",
    severity: Severity::Error,
    summary: "the user-data is neither a #cloud-config, a #! script nor Ignition JSON",
    help: "start a cloud-config with the line #cloud-config",
    explanation: "A node decides what user-data is from its first line alone: exactly `#cloud-config` \
(trailing blanks allowed), or `#!` for a script, or a JSON Ignition config. Anything else is \
rejected as `Unrecognized user-data format` and *nothing* in the file is applied. Common near \
misses are a leading blank, a byte order mark, other capitalisation, a comment after the header, \
and a header that is not on the first line.",
    example: "  #cloud-config\nhostname: node1\n",
    fixed: "#cloud-config\nhostname: node1\n",
};
