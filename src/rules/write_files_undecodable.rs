//! `kindling::write-files::undecodable`: content that does not decode in its encoding.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::encoding::{ENCODINGS, decode};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::undecodable",
    severity: Severity::Error,
    summary: "write_files content that cannot be decoded as its encoding says",
    help: "re-encode the content (`base64 -w0 FILE`, `gzip -c FILE | base64 -w0`) or fix `encoding`",
    explanation: "The node decodes `content` by `encoding` before writing it; content that does \
not decode stops the file from being written. base64 is read as Go does: padding required, line \
breaks ignored, nothing else allowed. `!!binary` content must itself be valid base64.",
    example: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: hello world\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    encoding: base64\n    content: aGVsbG8gd29ybGQ=\n",
};

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
