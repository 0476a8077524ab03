//! `kindling::update::signing-key`: an entry of `signing-keys` that is not a minisign
//! public key.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_signing_key`].

use crate::check::Context;
use crate::diagnostic::{Finding, Span};
use crate::model::minisign::PublicKey;
use crate::model::{Block, Spanned};
use crate::rules::update_signing_key::RULE;

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
            out.push(RULE.at(span, e.problem.to_string()));
        }
    }
}
