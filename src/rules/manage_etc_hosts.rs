//! `kindling::manage-etc-hosts::unsupported`: a `manage_etc_hosts` value other than
//! `localhost`.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::manage-etc-hosts::unsupported",
    severity: Severity::Error,
    summary: "manage_etc_hosts set to something other than localhost",
    help: "use `manage_etc_hosts: localhost`, or remove the key",
    explanation: "coreos-cloudinit supports only `localhost`, which writes an /etc/hosts that maps \
the hostname to 127.0.0.1. Any other value (cloud-init's `true` or `template`) aborts the whole \
apply on the node with `Invalid option to manage_etc_hosts`. Its validator does not check this.",
    example: "#cloud-config\nmanage_etc_hosts: true\n",
    fixed: "#cloud-config\nmanage_etc_hosts: localhost\n",
};
