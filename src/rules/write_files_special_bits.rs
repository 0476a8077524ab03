//! `kindling::write-files::special-bits`: a file mode with setuid, setgid or sticky bits.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::special-bits",
    severity: Severity::Warning,
    summary: "file permissions with setuid, setgid or sticky bits",
    help: "drop the leading digit unless the file really must run as its owner (e.g. '0755')",
    explanation: "A four-digit mode's first digit sets special bits: 4 setuid, 2 setgid, 1 \
sticky. coreos-cloudinit sets them as written (`1744` makes a sticky file). A setuid or setgid \
file runs with its owner's or group's rights, a risk worth a second look; on a file, the sticky \
bit does nothing. Ignition spec 3.3 cannot set these bits at all.",
    example: "#cloud-config\nwrite_files:\n  - path: /opt/bin/tool\n    permissions: '4755'\n    content: x\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/tool\n    permissions: '0755'\n    content: x\n",
};
