//! `kindling::update::signing-key`: an entry of `signing-keys` that is not a minisign
//! public key.

use crate::diagnostic::{Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::signing-key",
    severity: Severity::Error,
    summary: "a signing key that is not a minisign public key",
    help: "paste the two lines of the `.pub` file `minisign -G` wrote (or its second line alone)",
    explanation: "`coreos.update.signing-keys` (a kindling extension) lists the minisign public \
keys the kindling agent trusts for update payloads; each becomes \
`/etc/kindling/trusted-keys/<KEY ID>.pub`. An entry is the two lines of a minisign `.pub` file \
(`untrusted comment: ...` and the key) or the key line alone: base64 of 42 bytes, the algorithm \
`Ed`, the 8-byte key id and the 32-byte Ed25519 key (56 characters, starting with `RW`). \
kindling checks that structure (not the key itself) and points at the offending line or \
character. A pasted secret key (`.key` file) is refused: it must never leave the signing host.",
    example: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - |\n        comment: release key\n        RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - |\n        untrusted comment: release key\n        RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n",
};
