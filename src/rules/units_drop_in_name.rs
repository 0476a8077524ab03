//! `kindling::units::drop-in-name`: a drop-in systemd will not read.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::drop-in-name",
    severity: Severity::Error,
    summary: "a drop-in whose name does not end in .conf, which systemd ignores",
    help: "name the drop-in NN-something.conf, e.g. 50-proxy.conf",
    explanation: "systemd reads only files ending in `.conf` from a unit's `.d` directory. \
coreos-cloudinit writes a drop-in with any name, so `50-proxy` or `proxy.config` is written and \
then silently ignored.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - name: 50-proxy\n          content: |\n            [Service]\n            Environment=HTTP_PROXY=http://p:3128\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: docker.service\n      drop-ins:\n        - name: 50-proxy.conf\n          content: |\n            [Service]\n            Environment=HTTP_PROXY=http://p:3128\n",
};

/// Check every drop-in name.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        for drop_in in unit.value.drop_ins() {
            let Some(name) = drop_in.value.name.as_ref() else {
                continue;
            };
            if !name.value.is_empty() && !name.value.ends_with(".conf") {
                out.push(RULE.at(
                    name.span,
                    format!(
                        "systemd ignores the drop-in {:?}: only *.conf files are read",
                        name.value
                    ),
                ));
            }
            if name.value.contains('/') {
                out.push(RULE.at(
                    name.span,
                    format!(
                        "{:?} contains a '/'; a drop-in name is a file name",
                        name.value
                    ),
                ));
            }
        }
    }
}
