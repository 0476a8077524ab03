//! `kindling::write-files::undecodable`: content that does not decode in its encoding.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_undecodable`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::encoding::{ENCODINGS, decode};
use crate::rules::write_files_undecodable::RULE;

/// Check every file.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for file in cx.config.write_files() {
        let f = &file.value;
        if let Some(content) = &f.content
            && let Some(why) = &content.value.binary_error
        {
            out.push(RULE.at(
                content.span,
                format!("this !!binary content cannot be decoded: {why}"),
            ));
            continue;
        }
        let Some(encoding) = &f.encoding else {
            continue;
        };
        // An unknown encoding is reported once, by kindling::write-files::encoding.
        if !ENCODINGS.contains(&encoding.value.as_str()) {
            continue;
        }
        let bytes = f
            .content
            .as_ref()
            .map_or(&[][..], |c| c.value.bytes.as_slice());
        if let Err(why) = decode(bytes, &encoding.value) {
            let span = f.content.as_ref().map_or(encoding.key_span, |c| c.span);
            out.push(RULE.at(
                span,
                format!("content cannot be decoded as {:?}: {why}", encoding.value),
            ));
        }
    }
}
