//! `kindling::write-files::read-only`: a file under the read-only /usr.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::root::clean;

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

/// Check every path.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for file in cx.config.write_files() {
        let Some(path) = &file.value.path else {
            continue;
        };
        if path.value.is_empty() {
            continue;
        }
        let cleaned = clean(&path.value);
        if cleaned == "/usr" || cleaned.starts_with("/usr/") {
            out.push(RULE.at(
                path.span,
                format!("{cleaned} is on the read-only /usr filesystem"),
            ));
        }
    }
}
