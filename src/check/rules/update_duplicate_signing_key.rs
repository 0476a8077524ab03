//! `kindling::update::duplicate-signing-key`: the same key listed twice in `signing-keys`.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_duplicate_signing_key`].

use crate::check::Context;
use crate::diagnostic::{Finding, Severity, Span};
use crate::model::minisign::PublicKey;
use crate::rules::update_duplicate_signing_key::RULE;
use std::collections::HashMap;

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
