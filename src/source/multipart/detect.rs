//! Whether a user-data is multipart MIME at all: the one question `source::classify` asks of
//! this module, kept apart from the reader so that the classifier, which the reader asks
//! whether a part is a cloud-config or Ignition, and the reader do not name each other.

use mailparse::MailHeaderMap;

/// Whether `text` is a MIME message whose `Content-Type` is `multipart/...`: its first line
/// is a `Content-Type:` or `MIME-Version:` header and the header block names a multipart type.
#[must_use]
pub fn is_multipart(text: &str) -> bool {
    let first = text.split('\n').next().unwrap_or("").to_ascii_lowercase();
    if !(first.starts_with("content-type:") || first.starts_with("mime-version:")) {
        return false;
    }
    mailparse::parse_headers(text.as_bytes())
        .ok()
        .and_then(|(headers, _)| headers.get_first_value("Content-Type"))
        .is_some_and(|v| {
            mailparse::parse_content_type(&v)
                .mimetype
                .starts_with("multipart/")
        })
}
