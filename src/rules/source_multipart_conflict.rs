//! `kindling::source::multipart-conflict`: two parts of multipart user-data want one thing.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::source::multipart-conflict",
    severity: Severity::Warning,
    summary: "two cloud-config parts write the same path or unit, or name different hostnames",
    help: "keep each file, unit and the hostname in one part",
    explanation: "Flatcar's coreos-cloudinit applies cloud-config parts one after the other, so a \
later part's file or unit replaces an earlier part's, while the hostname is the first part's that \
names one (`FindHostname`). kindling merges the parts into one plan by the same rule (so `diff` \
shows what the node ends with) and reports each such overlap, since a config split in parts \
rarely means to write one path twice.",
    example: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nwrite_files:\n- path: /etc/motd\n  content: one\n--XX\nContent-Type: text/cloud-config\n\nwrite_files:\n- path: /etc/motd\n  content: two\n--XX--\n",
    fixed: "Content-Type: multipart/mixed; boundary=\"XX\"\nMIME-Version: 1.0\n\n--XX\nContent-Type: text/cloud-config\n\nwrite_files:\n- path: /etc/motd\n  content: one\n--XX\nContent-Type: text/cloud-config\n\nwrite_files:\n- path: /etc/issue\n  content: two\n--XX--\n",
};
