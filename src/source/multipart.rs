//! Multipart MIME user-data split into its parts, as Flatcar's coreos-cloudinit reads it
//! (`initialize/user_data.go`), through the `mailparse` crate (no MIME parsing by hand).
//!
//! It owns: recognising a `Content-Type: multipart/...` user-data, undoing each part's
//! `base64`/`quoted-printable` transfer encoding and gzip part types, deciding what each
//! part is (cloud-config, script, Ignition, or something kindling skips) and remembering
//! where each part's text sits in the whole file, so findings about a part point at the
//! user's line and column. It bounds what coreos-cloudinit leaves unbounded: the number of
//! parts, the nesting depth and the decoded size (a gzip bomb stops at the limit).
//!
//! It never validates or plans a part (that is `compile::multipart`), never reads a file and
//! never panics on hostile input: every problem is one error [`Finding`].

use std::io::Read;

use mailparse::{MailHeaderMap, ParsedMail};

use crate::diagnostic::{Finding, Span};
use crate::rules::source_multipart;
use crate::rules::source_multipart_malformed;
use crate::rules::source_multipart_skipped;

mod detect;
pub use detect::is_multipart;

/// Most parts (leaves, nested ones counted) one user-data may have.
pub const MAX_PARTS: usize = 100;
/// Deepest multipart nesting (the top-level message is depth 1).
pub const MAX_DEPTH: usize = 4;
/// Most bytes of decoded part bodies, all parts together (16 MiB).
pub const MAX_DECODED: usize = 16 * 1024 * 1024;

/// The gzip part types coreos-cloudinit unpacks (`initialize/user_data.go`).
const GZIP_TYPES: [&str; 8] = [
    "application/gzip",
    "application/gzip-compressed",
    "application/gzipped",
    "application/x-compress",
    "application/x-compressed",
    "application/x-gunzip",
    "application/x-gzip",
    "application/x-gzip-compressed",
];

/// What a part is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartKind {
    /// A cloud-config (its text may lack the `#cloud-config` line: the type says it).
    CloudConfig,
    /// A `#!` script.
    Script,
    /// An Ignition config: left to Ignition.
    Ignition,
    /// Not applied; the reason.
    Skipped(String),
}

/// One part of a multipart user-data.
#[derive(Debug, Clone)]
pub struct Part {
    /// 1-based, in file order (nested parts numbered where they occur).
    pub number: usize,
    /// The declared type (`text/cloud-config`), lower case; `text/plain` when none.
    pub content_type: String,
    /// `Content-Disposition` file name, if any.
    pub filename: Option<String>,
    /// What it is.
    pub kind: PartKind,
    /// The decoded text.
    pub text: String,
    /// The part's header line to point at (its `Content-Type` line, else its first line).
    pub header: Span,
    /// Where `text` starts in the whole file when it is there byte for byte (no transfer
    /// encoding or gzip undone); `None` when it was decoded.
    pub body_at: Option<usize>,
    /// What was undone to get `text` (`base64`, `gzip`), outermost first.
    pub decoded: Vec<&'static str>,
}

impl Part {
    /// `part 2 (cloud-config.yaml)`, for messages.
    #[must_use]
    pub fn label(&self) -> String {
        match &self.filename {
            Some(f) => format!("part {} ({f})", self.number),
            None => format!("part {}", self.number),
        }
    }
}

/// The parts and what is worth saying about them (skipped parts, Ignition parts, guessed
/// types).
#[derive(Debug, Clone, Default)]
pub struct Split {
    /// Every part, in file order.
    pub parts: Vec<Part>,
    /// Warnings and notes about parts.
    pub findings: Vec<Finding>,
}

/// Where a level of the message sits: in the whole file (offsets computable) or inside a
/// decoded part (everything points at that part's header).
#[derive(Clone, Copy)]
enum Place {
    File,
    Decoded(Span),
}

struct Reader<'a> {
    whole: &'a [u8],
    parts: Vec<Part>,
    findings: Vec<Finding>,
    decoded_bytes: usize,
    /// Parts met so far, skipped ones included.
    seen: usize,
}

fn malformed(span: Span, message: impl Into<String>) -> Finding {
    source_multipart_malformed::RULE.at(span, message)
}

/// Byte offset of `inner` in `base`, when `inner` is a slice of it.
fn offset_in(base: &[u8], inner: &[u8]) -> Option<usize> {
    let b = base.as_ptr() as usize;
    let i = inner.as_ptr() as usize;
    (i >= b && i + inner.len() <= b + base.len()).then(|| i - b)
}

/// Refuse a message that is not multipart/mixed, with `refusal` of its type.
fn mixed_only(mail: &ParsedMail<'_>, refusal: impl FnOnce(&str) -> Finding) -> Result<(), Finding> {
    if mail.ctype.mimetype == "multipart/mixed" {
        Ok(())
    } else {
        Err(refusal(&mail.ctype.mimetype))
    }
}

/// Split a multipart user-data (`text` is the whole file).
///
/// # Errors
/// One error finding when the message cannot be read as a whole: no part uses the
/// boundary, no closing boundary, a part that does not decode or unpack, a script part
/// without `#!`, or a limit passed. coreos-cloudinit refuses the whole user-data then too.
pub fn split(text: &str) -> Result<Split, Finding> {
    let whole = text.as_bytes();
    let first_line = Span::new(0, text.find('\n').unwrap_or(text.len()));
    let mail = mailparse::parse_mail(whole).map_err(|e| {
        malformed(
            first_line,
            format!("the multipart user-data cannot be read: {e}"),
        )
    })?;
    let mut reader = Reader {
        whole,
        parts: Vec::new(),
        findings: Vec::new(),
        decoded_bytes: 0,
        seen: 0,
    };
    mixed_only(&mail, |t| {
        malformed(
            first_line,
            format!("the user-data is {t}; coreos-cloudinit reads only multipart/mixed"),
        )
        .with_help("write it as multipart/mixed (`cloud-init devel make-mime` does)")
    })?;
    reader.multipart(&mail, Place::File, first_line, 1)?;
    if reader.parts.is_empty() {
        return Err(malformed(
            first_line,
            "the multipart user-data has no parts",
        ));
    }
    Ok(Split {
        parts: reader.parts,
        findings: reader.findings,
    })
}

impl Reader<'_> {
    /// The span of `header` (a part's header line) or of the part's first line.
    fn header_span(&self, mail: &ParsedMail<'_>, place: Place) -> Span {
        if let Place::Decoded(span) = place {
            return span;
        }
        let key = mail
            .headers
            .iter()
            .find(|h| h.get_key_ref().eq_ignore_ascii_case("content-type"));
        let start = key
            .and_then(|h| offset_in(self.whole, h.get_key_raw()))
            .or_else(|| offset_in(self.whole, mail.raw_bytes))
            .unwrap_or(0);
        let end = self.whole[start..]
            .iter()
            .position(|b| *b == b'\n')
            .map_or(self.whole.len(), |n| start + n);
        let end = if end > start && self.whole[end - 1] == b'\r' {
            end - 1
        } else {
            end
        };
        Span::new(start, end)
    }

    fn multipart(
        &mut self,
        mail: &ParsedMail<'_>,
        place: Place,
        header: Span,
        depth: usize,
    ) -> Result<(), Finding> {
        if depth > MAX_DEPTH {
            return Err(malformed(
                header,
                format!("multipart nesting is deeper than {MAX_DEPTH} levels"),
            )
            .with_help("put the parts side by side in one multipart/mixed"));
        }
        let boundary = mail
            .ctype
            .params
            .get("boundary")
            .cloned()
            .unwrap_or_default();
        if boundary.is_empty() {
            return Err(malformed(
                header,
                "the multipart Content-Type has no boundary parameter",
            )
            .with_help("add `; boundary=\"...\"` naming the line that separates the parts"));
        }
        if mail.subparts.is_empty() {
            return Err(malformed(
                header,
                format!("no part starts with the boundary line `--{boundary}`"),
            )
            .with_help(
                "the boundary parameter must match the `--...` lines between the parts exactly",
            ));
        }
        // mailparse runs a part without a closing boundary to the end of the message: a
        // truncated download. coreos-cloudinit (Go's mime/multipart) refuses it too.
        if let Some(last) = mail.subparts.last()
            && mail.raw_bytes.as_ptr_range().end == last.raw_bytes.as_ptr_range().end
        {
            return Err(malformed(
                header,
                format!(
                    "the multipart ends without its closing boundary `--{boundary}--`; is it truncated?"
                ),
            ));
        }
        for sub in &mail.subparts {
            self.part(sub, place, depth)?;
        }
        Ok(())
    }

    fn part(&mut self, mail: &ParsedMail<'_>, place: Place, depth: usize) -> Result<(), Finding> {
        let header = self.header_span(mail, place);
        let declared = mail.headers.get_first_value("Content-Type").is_some();
        let content_type = mail.ctype.mimetype.to_ascii_lowercase();
        if content_type.starts_with("multipart/") {
            if content_type == "multipart/mixed" {
                return self.multipart(mail, place, header, depth + 1);
            }
            self.count(header)?;
            let number = self.seen;
            self.findings.push(source_multipart_skipped::RULE.at(
                header,
                format!("part {number} is {content_type}; only multipart/mixed is read"),
            ));
            return Ok(());
        }
        self.count(header)?;
        let number = self.seen;
        let filename = mail
            .get_content_disposition()
            .params
            .get("filename")
            .cloned();
        let label = match &filename {
            Some(f) => format!("part {number} ({f})"),
            None => format!("part {number}"),
        };
        let (mut bytes, mut body_at, mut decoded) = self.body(mail, place, header, &label)?;
        self.budget(bytes.len(), header)?;
        let gzip_type = GZIP_TYPES.contains(&content_type.as_str());
        if gzip_type {
            bytes = self.gunzip(&bytes, header, &label)?;
            decoded.push("gzip");
            body_at = None;
            // A gzip part may hold a whole MIME message (coreos-cloudinit reads it again).
            if is_multipart(&String::from_utf8_lossy(&bytes)) {
                return self.nested_message(&bytes, header, depth);
            }
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            let at = e.utf8_error().valid_up_to();
            let span = body_at.map_or(header, |b| Span::new(b + at, b + at + 1));
            malformed(
                span,
                format!("{label}: byte {at} of its body is not valid UTF-8"),
            )
            .with_help("send binary parts base64-encoded (Content-Transfer-Encoding: base64)")
        })?;
        let declared_type = Declared {
            content_type: &content_type,
            declared,
            gzip_type,
        };
        let kind = declared_type.kind(&text, header, &label)?;
        self.note(&kind, &declared_type, header, &label);
        self.parts.push(Part {
            number,
            content_type: if declared {
                content_type
            } else {
                "text/plain".into()
            },
            filename,
            kind,
            text,
            header,
            body_at,
            decoded,
        });
        Ok(())
    }

    /// A part's body with its transfer encoding undone, where it starts in the whole file
    /// (when it is there byte for byte), and what was undone.
    fn body(
        &self,
        mail: &ParsedMail<'_>,
        place: Place,
        header: Span,
        label: &str,
    ) -> Result<Body, Finding> {
        let raw_at = |raw: &[u8]| match place {
            Place::File => offset_in(self.whole, raw),
            Place::Decoded(_) => None,
        };
        Ok(match &mail.get_body_encoded() {
            mailparse::body::Body::Base64(b) | mailparse::body::Body::QuotedPrintable(b) => {
                let encoding = mail
                    .headers
                    .get_first_value("Content-Transfer-Encoding")
                    .map(|e| e.trim().to_ascii_lowercase())
                    .unwrap_or_default();
                let undone = if encoding == "base64" {
                    "base64"
                } else {
                    "quoted-printable"
                };
                let out = b.get_decoded().map_err(|e| {
                    malformed(
                        header,
                        format!("{label}: its {encoding} body does not decode: {e}"),
                    )
                })?;
                (out, None, vec![undone])
            }
            mailparse::body::Body::SevenBit(b) | mailparse::body::Body::EightBit(b) => {
                (b.get_raw().to_vec(), raw_at(b.get_raw()), Vec::new())
            }
            mailparse::body::Body::Binary(b) => {
                (b.get_raw().to_vec(), raw_at(b.get_raw()), Vec::new())
            }
        })
    }

    /// The finding a part's kind is worth: skipped, left to Ignition, or a type guessed
    /// from its first line against its declared type.
    fn note(&mut self, kind: &PartKind, declared: &Declared<'_>, header: Span, label: &str) {
        let content_type = declared.content_type;
        match kind {
            PartKind::Skipped(why) => self
                .findings
                .push(source_multipart_skipped::RULE.at(header, why.clone())),
            PartKind::Ignition => self.findings.push(
                source_multipart::RULE.at(
                    header,
                    format!("{label} is an Ignition config: it is left to Ignition and not applied"),
                )
                .with_help("nothing to do here: Ignition reads its config on first boot, not from this user-data"),
            ),
            _ if declared.guessable() && declared.declared && !declared.gzip_type => self.findings.push(
                source_multipart::RULE.at(
                    header,
                    format!(
                        "{label} is {content_type}; its first line says it is a {}",
                        if *kind == PartKind::Script { "#! script" } else { "cloud-config" }
                    ),
                ),
            ),
            _ => {}
        }
    }

    fn nested_message(&mut self, bytes: &[u8], header: Span, depth: usize) -> Result<(), Finding> {
        let mail = mailparse::parse_mail(bytes).map_err(|e| {
            malformed(
                header,
                format!("the MIME message inside this gzip part cannot be read: {e}"),
            )
        })?;
        mixed_only(&mail, |t| {
            malformed(
                header,
                format!("the message inside this gzip part is {t}; only multipart/mixed is read"),
            )
        })?;
        self.multipart(&mail, Place::Decoded(header), header, depth + 1)
    }

    fn count(&mut self, header: Span) -> Result<(), Finding> {
        self.seen += 1;
        if self.seen > MAX_PARTS {
            return Err(malformed(
                header,
                format!("the user-data has more than {MAX_PARTS} parts; kindling reads at most {MAX_PARTS}"),
            )
            .with_help("merge the cloud-config parts; a node needs only a few"));
        }
        Ok(())
    }

    fn budget(&mut self, n: usize, header: Span) -> Result<(), Finding> {
        self.decoded_bytes = self.decoded_bytes.saturating_add(n);
        if self.decoded_bytes > MAX_DECODED {
            return Err(malformed(
                header,
                format!(
                    "the parts decode to more than {} MiB together; kindling stops there",
                    MAX_DECODED / 1024 / 1024
                ),
            ));
        }
        Ok(())
    }

    /// Unpack a gzip part, never past what is left of the decoded budget.
    fn gunzip(&mut self, bytes: &[u8], header: Span, label: &str) -> Result<Vec<u8>, Finding> {
        let left = MAX_DECODED.saturating_sub(self.decoded_bytes);
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(bytes)
            .take(left as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|e| {
                malformed(
                    header,
                    format!("{label}: its gzip body cannot be unpacked: {e}"),
                )
            })?;
        if out.len() > left {
            return Err(malformed(
                header,
                format!(
                    "{label}: its gzip body unpacks to more than the {} MiB kindling reads from all parts together (a gzip bomb?)",
                    MAX_DECODED / 1024 / 1024
                ),
            ));
        }
        self.decoded_bytes += out.len();
        Ok(out)
    }
}

/// A part's body: its bytes, where they start in the whole file (when there byte for byte),
/// and what was undone to get them.
type Body = (Vec<u8>, Option<usize>, Vec<&'static str>);

/// A part's type as its headers give it.
struct Declared<'a> {
    /// Its `Content-Type`, lower case.
    content_type: &'a str,
    /// Whether it has a `Content-Type` header at all.
    declared: bool,
    /// Whether the type is one of the gzip types.
    gzip_type: bool,
}

impl Declared<'_> {
    /// Whether the type says nothing, so the first line decides (as coreos-cloudinit guesses).
    fn guessable(&self) -> bool {
        !self.declared
            || self.gzip_type
            || matches!(self.content_type, "text/plain" | "application/octet-stream")
    }

    /// What a part of this type with `text` is.
    fn kind(&self, text: &str, header: Span, label: &str) -> Result<PartKind, Finding> {
        let content_type = self.content_type;
        let first = text.split('\n').next().unwrap_or("").trim_end();
        let sniff = || -> Option<PartKind> {
            if first.starts_with("#!") {
                Some(PartKind::Script)
            } else if first == super::classify::HEADER {
                Some(PartKind::CloudConfig)
            } else if super::classify::is_ignition(text) {
                Some(PartKind::Ignition)
            } else {
                None
            }
        };
        Ok(match content_type {
            "text/cloud-config" => PartKind::CloudConfig,
            "text/x-shellscript" => {
                if !first.starts_with("#!") {
                    return Err(malformed(
                        header,
                        format!("{label} is text/x-shellscript but does not start with #!"),
                    )
                    .with_help("start the script with its interpreter line, e.g. #!/bin/bash"));
                }
                PartKind::Script
            }
            _ if self.guessable() => sniff().unwrap_or_else(|| {
                PartKind::Skipped(format!(
                    "{label} is {content_type} and neither #cloud-config, a #! script nor Ignition"
                ))
            }),
            _ => match sniff() {
                Some(PartKind::Ignition) => PartKind::Ignition,
                Some(looks) => PartKind::Skipped(format!(
                    "{label} is {content_type}, which kindling does not apply (it looks like a {}; coreos-cloudinit would guess so and run it)",
                    if looks == PartKind::Script {
                        "#! script"
                    } else {
                        "cloud-config"
                    }
                )),
                None => PartKind::Skipped(format!(
                    "{label} is {content_type}, which kindling does not apply"
                )),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mime(parts: &[(&str, &str)]) -> String {
        let mut s =
            String::from("Content-Type: multipart/mixed; boundary=\"BB\"\nMIME-Version: 1.0\n\n");
        for (h, b) in parts {
            s.push_str(&format!("--BB\n{h}\n\n{b}\n"));
        }
        s.push_str("--BB--\n");
        s
    }

    #[test]
    fn recognises_multipart() {
        assert!(is_multipart(&mime(&[(
            "Content-Type: text/cloud-config",
            "a: 1"
        )])));
        assert!(is_multipart(
            "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=x\n\n"
        ));
        assert!(!is_multipart("#cloud-config\n"));
        assert!(!is_multipart("Content-Type: text/plain\n\nhi"));
    }

    #[test]
    fn parts_keep_their_place() {
        let text = mime(&[
            ("Content-Type: text/cloud-config", "hostname: a"),
            ("Content-Type: text/x-shellscript", "#!/bin/sh\necho"),
            ("Content-Type: text/plain", "#cloud-config\nhostname: b"),
            (
                "Content-Type: application/json",
                "{\"ignition\":{\"version\":\"3.3.0\"}}",
            ),
            ("Content-Type: text/x-include-url", "http://x"),
        ]);
        let split = split(&text).unwrap();
        let kinds: Vec<_> = split.parts.iter().map(|p| p.kind.clone()).collect();
        assert_eq!(kinds[0], PartKind::CloudConfig);
        assert_eq!(kinds[1], PartKind::Script);
        assert_eq!(kinds[2], PartKind::CloudConfig);
        assert_eq!(kinds[3], PartKind::Ignition);
        assert!(matches!(kinds[4], PartKind::Skipped(_)));
        let p = &split.parts[0];
        let at = p.body_at.unwrap();
        assert_eq!(&text[at..at + p.text.len()], "hostname: a");
        assert_eq!(
            &text[p.header.start..p.header.end],
            "Content-Type: text/cloud-config"
        );
    }

    /// `levels` multipart/mixed messages, each the only part of the one outside it.
    fn nested(levels: usize) -> String {
        let mut body = "Content-Type: text/cloud-config\n\nhostname: deep\n".to_string();
        for i in 0..levels {
            body = format!(
                "Content-Type: multipart/mixed; boundary=\"L{i}\"\n\n--L{i}\n{body}\n--L{i}--\n"
            );
        }
        body
    }

    #[test]
    fn nesting_is_read_in_place_and_bounded() {
        let split = split(&nested(MAX_DEPTH)).unwrap();
        assert_eq!(split.parts.len(), 1);
        assert_eq!(split.parts[0].text.trim_end(), "hostname: deep");
        let text = nested(MAX_DEPTH);
        let at = split.parts[0].body_at.unwrap();
        assert_eq!(&text[at..at + 14], "hostname: deep");
        let err = super::split(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(err.message.contains("deeper than 4"), "{}", err.message);
        // Far past mailparse's own recursion limit: still a finding, not a crash.
        assert!(super::split(&nested(150)).is_err());
    }

    #[test]
    fn a_gzip_part_holding_a_message_is_read_as_nested() {
        use std::io::Write;
        let inner = mime(&[("Content-Type: text/cloud-config", "hostname: zipped")]);
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(inner.as_bytes()).unwrap();
        let b64 = base64::Engine::encode(
            &base64::engine::general_purpose::STANDARD,
            enc.finish().unwrap(),
        );
        let text = mime(&[(
            "Content-Type: application/x-gzip\nContent-Transfer-Encoding: base64",
            &b64,
        )]);
        let split = split(&text).unwrap();
        assert_eq!(split.parts.len(), 1);
        assert_eq!(split.parts[0].kind, PartKind::CloudConfig);
        assert_eq!(split.parts[0].text, "hostname: zipped");
        assert_eq!(split.parts[0].body_at, None);
        assert_eq!(
            &text[split.parts[0].header.start..split.parts[0].header.end],
            "Content-Type: application/x-gzip"
        );
    }

    #[test]
    fn part_count_includes_nested_parts() {
        let many: Vec<(&str, &str)> = (0..MAX_PARTS)
            .map(|_| ("Content-Type: text/cloud-config", "a: 1"))
            .collect();
        assert_eq!(split(&mime(&many)).unwrap().parts.len(), MAX_PARTS);
        let mut more = many.clone();
        more.push(("Content-Type: text/cloud-config", "a: 1"));
        assert!(
            split(&mime(&more))
                .unwrap_err()
                .message
                .contains("more than 100 parts")
        );
    }

    #[test]
    fn malformed_messages_are_errors() {
        let bad = mime(&[("Content-Type: text/cloud-config", "a: 1")])
            .replace("boundary=\"BB\"", "boundary=\"CC\"");
        assert!(split(&bad).unwrap_err().message.contains("--CC"));
        let open = mime(&[("Content-Type: text/cloud-config", "a: 1")]).replace("--BB--\n", "");
        assert!(
            split(&open)
                .unwrap_err()
                .message
                .contains("closing boundary")
        );
        let nosh = mime(&[("Content-Type: text/x-shellscript", "echo hi")]);
        assert!(split(&nosh).unwrap_err().message.contains("#!"));
    }
}
