//! `kindling::update::no-signing-keys`: the kindling agent without a key to trust.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::no-signing-keys",
    severity: Severity::Warning,
    summary: "agent: kindling without signing-keys",
    help: "list the minisign public key(s) your update payloads are signed with under `signing-keys:`",
    explanation: "The kindling agent installs a payload only when its minisign signature verifies \
against a key in `/etc/kindling/trusted-keys/`. A config that chooses the agent but lists no \
`signing-keys` relies on keys already on the node; on a node without any, every update is \
refused. When the image does ship its keys there, silence this with \
`# kindling-ignore: update::no-signing-keys`.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0\n",
};
