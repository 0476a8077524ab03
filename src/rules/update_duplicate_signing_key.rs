//! `kindling::update::duplicate-signing-key`: the same key listed twice in `signing-keys`.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::duplicate-signing-key",
    severity: Severity::Warning,
    summary: "a signing key listed twice, or two keys with the same key id",
    help: "list each key once",
    explanation: "Each entry of `coreos.update.signing-keys` becomes \
`/etc/kindling/trusted-keys/<KEY ID>.pub`, named after the key id. The same key listed twice \
is written once (a warning: the list says less than it seems to). Two different keys with the \
same key id would be written to the same file, one replacing the other (an error): minisign \
key ids are random, so this means one of them was edited.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n      - RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n",
};
