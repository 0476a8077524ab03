//! `kindling::update::duplicate-signing-key`: the same key listed twice in `signing-keys`.

use std::collections::HashMap;

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity, Span};
use crate::model::minisign::PublicKey;

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

/// Check the list.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    // key id -> (the first entry's span, its key bytes)
    let mut seen: HashMap<u64, (Span, [u8; 42])> = HashMap::new();
    for key in update.value.signing_keys() {
        let Ok(parsed) = PublicKey::parse(&key.value.text) else {
            continue;
        };
        match seen.get(&parsed.key_id()) {
            None => {
                seen.insert(parsed.key_id(), (key.span, parsed.bytes));
            }
            Some((first, bytes)) if *bytes == parsed.bytes => out.push(
                RULE.at(
                    key.span,
                    format!("key {} is already listed", parsed.id_hex()),
                )
                .with_related(*first, "listed here first"),
            ),
            Some((first, _)) => out.push(
                RULE.at(
                    key.span,
                    format!(
                        "another key has the same key id {}; both would be written to {}.pub",
                        parsed.id_hex(),
                        parsed.id_hex()
                    ),
                )
                .with_severity(Severity::Error)
                .with_related(*first, "the other key")
                .with_help("check both keys against their .pub files"),
            ),
        }
    }
}
