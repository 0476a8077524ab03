//! `kindling::update::signing-key`: an entry of `signing-keys` that is not a minisign
//! public key.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity, Span};
use crate::model::minisign::PublicKey;
use crate::model::{Block, Spanned};

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

/// The span of bytes `range` of line `line` of a key's text, in the YAML file: exact in
/// a literal block or a one-line scalar, the whole value otherwise.
#[must_use]
pub fn span_in(cx: &Context<'_>, key: &Spanned<Block>, line: usize, range: (usize, usize)) -> Span {
    let text = &key.value.text;
    if key.value.literal {
        let l = cx.source.block_line_span(key.span, text, true, line);
        let start = (l.start + range.0).min(l.end);
        return Span::new(start, (l.start + range.1).min(l.end).max(start));
    }
    if line == 0 && !text.contains('\n') {
        let raw = cx
            .source
            .text
            .get(key.span.start..key.span.end)
            .unwrap_or("");
        let start = key.span.start + usize::from(raw.starts_with(['"', '\'']));
        if cx.source.text.get(start..start + text.len()) == Some(text.as_str()) {
            return Span::new(start + range.0, start + range.1);
        }
    }
    key.span
}

/// Check every entry.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(update) = cx.config.update() else {
        return;
    };
    for key in update.value.signing_keys() {
        if let Err(e) = PublicKey::parse(&key.value.text) {
            let span = if e.range.0 == e.range.1 {
                key.span
            } else {
                span_in(cx, key, e.line, e.range)
            };
            out.push(RULE.at(span, e.message));
        }
    }
}
