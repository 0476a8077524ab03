//! `kindling::units::drop-in-name`: a drop-in systemd will not read.

use crate::diagnostic::{Rule, Severity};

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
