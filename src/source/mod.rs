//! Source: the only stage that reads input. Bytes in, a classified text with spans out.
//!
//! It unpacks gzip'd user-data, insists on UTF-8 (pointing at the first bad byte),
//! classifies the text exactly as coreos-cloudinit's validator does (empty, `#!` script,
//! Ignition JSON, `#cloud-config`, anything else) plus cloud-init's `## template: jinja`
//! header, which `template` renders per node, and for cloud-configs builds the
//! spanned YAML tree (`yaml`). A `multipart/mixed` MIME user-data (Flatcar's coreos-cloudinit
//! reads it) is split into its parts by `multipart`, bounded in parts, depth and decoded size.
//! `scalar` is a scalar as written and its YAML 1.1 resolution (the model decides with it
//! whether a value fits a typed field). It never interprets what the keys mean; that is
//! `model`. Source names only the catalogue (`rules`, to report under a rule) and the
//! ground below it.

mod classify;
mod line_index;
mod markers;
pub mod multipart;
mod node;
pub mod scalar;
mod tabs;
pub mod yaml;

use std::io::Read;
use std::path::Path;

pub use classify::{HEADER, UserData, classify, template_renderer};
pub use line_index::{LineIndex, Position};
pub use node::{Entry, Node, Value};
pub use scalar::{Scalar, Style, Tag};

use crate::diagnostic::{Finding, Span};
use crate::rules;

/// Largest user-data accepted after gunzip. coreos-cloudinit reads user-data whole into
/// memory; real configs are far below this, and it bounds a gzip bomb.
pub const MAX_USER_DATA: u64 = 64 * 1024 * 1024;

/// A loaded input: the (unpacked) text, its line index, and what kind of user-data it is.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// How the user named it (`-` for standard input).
    pub name: String,
    /// The text (gunzipped; invalid UTF-8 replaced after being reported).
    pub text: String,
    /// Line starts of `text`.
    pub index: LineIndex,
    /// What the text is.
    pub kind: UserData,
    /// Whether the input was gzip-compressed.
    pub gzipped: bool,
}

impl SourceFile {
    /// 1-based line and column of a byte offset.
    #[must_use]
    pub fn position(&self, offset: usize) -> Position {
        self.index.position(&self.text, offset)
    }

    /// The span of value line `k` (0-based) of a scalar whose value is `text` and whose
    /// node span is `span`, so findings about the inside of a `content: |` block point
    /// at the right line of the YAML file. Literal (`|`) blocks map one value line to
    /// one source line; for any other scalar the whole span is returned.
    #[must_use]
    pub fn block_line_span(&self, span: Span, text: &str, literal: bool, k: usize) -> Span {
        if !literal {
            return span;
        }
        // The node's span starts at its first non-blank body line; blank lines before
        // it are leading newlines of the value.
        let leading = text.bytes().take_while(|b| *b == b'\n').count();
        let first = self.position(span.start);
        let indent = first.column - 1;
        let Some(line) = (first.line + k).checked_sub(leading) else {
            return span;
        };
        if line > self.index.line_count() {
            return span;
        }
        let start = self.index.line_start(line);
        let end = self.index.line_end(&self.text, line);
        let content = self.index.offset(&self.text, line, indent).min(end);
        Span::new(content.max(start), end.max(content))
    }
}

/// Why an input could not be read at all (exit status 2, not a finding).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file or standard input could not be read.
    #[error("cannot read {name}: {source}")]
    Io {
        /// The name given.
        name: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// A directory was named where a file belongs (commands read files, never a folder's
    /// contents, so a stray backup or README in it is never taken for a config).
    #[error("{name} is a directory, not a file: name the files in it (e.g. {name}/*.yaml)")]
    Directory {
        /// The name given.
        name: String,
    },
}

/// Read a file, or standard input for `-`.
///
/// # Errors
/// When the file cannot be read.
pub fn read(name: &str) -> Result<Vec<u8>, LoadError> {
    let result = if name == "-" {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).map(|_| buf)
    } else {
        std::fs::read(Path::new(name))
    };
    result.map_err(|source| {
        if name != "-" && Path::new(name).is_dir() {
            LoadError::Directory {
                name: name.trim_end_matches('/').to_string(),
            }
        } else {
            LoadError::Io {
                name: name.to_string(),
                source,
            }
        }
    })
}

/// Read at most `limit` bytes of the regular file at `path` (more is an error), never
/// blocking on what is not one: the file is opened with `O_NONBLOCK` and checked with
/// `fstat` before anything is read, so a FIFO, a socket or a device is refused at once
/// instead of waiting for a writer that never comes. The last component may be a symbolic
/// link (callers that must stay below a directory check the real path first).
///
/// # Errors
/// The file cannot be opened, is not a regular file, cannot be read or is larger than `limit`.
pub fn read_regular(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    use rustix::fs::{Mode, OFlags};
    let fd = rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY,
        Mode::empty(),
    )?;
    let file = std::fs::File::from(fd);
    let kind = file.metadata()?.file_type();
    if !kind.is_file() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a regular file ({})",
                path.display(),
                describe_kind(kind)
            ),
        ));
    }
    let mut out = Vec::new();
    file.take(limit.saturating_add(1)).read_to_end(&mut out)?;
    if out.len() as u64 > limit {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("{} is larger than {} KiB", path.display(), limit / 1024),
        ));
    }
    Ok(out)
}

/// What a file that is not a regular file is, for messages.
fn describe_kind(kind: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if kind.is_fifo() {
        "a FIFO"
    } else if kind.is_dir() {
        "a directory"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_block_device() || kind.is_char_device() {
        "a device"
    } else {
        "not a plain file"
    }
}

/// Turn raw user-data bytes into a [`SourceFile`], with findings for gzip and UTF-8
/// problems and for the classification (scripts, Ignition, unrecognised headers).
#[must_use]
pub fn load(name: &str, bytes: Vec<u8>) -> (SourceFile, Vec<Finding>) {
    let mut findings = Vec::new();
    let mut gzipped = false;
    let mut bytes = bytes;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        gzipped = true;
        match gunzip(&bytes) {
            Ok(unpacked) => bytes = unpacked,
            Err(why) => {
                let source = plain_source(name, String::new(), UserData::Empty, true);
                findings.push(rules::source_gzip::RULE.at(Span::point(0), why.to_string()));
                return (source, findings);
            }
        }
    }
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            let text = String::from_utf8_lossy(err.as_bytes()).into_owned();
            let (kind, _) = classify(&text);
            if matches!(
                kind,
                UserData::CloudConfig | UserData::Template | UserData::Multipart
            ) {
                // The span covers the U+FFFD the byte became in the text (found by fuzzing:
                // one byte wide, it ended inside that character).
                findings.push(rules::source_utf8::RULE.at(
                    Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8()),
                    format!("byte {at} is not valid UTF-8"),
                ));
            }
            text
        }
    };
    let (kind, finding) = classify(&text);
    findings.extend(finding);
    let source = plain_source(name, text, kind, gzipped);
    (source, findings)
}

fn plain_source(name: &str, text: String, kind: UserData, gzipped: bool) -> SourceFile {
    let index = LineIndex::new(&text);
    SourceFile {
        name: name.to_string(),
        text,
        index,
        kind,
        gzipped,
    }
}

/// Why a gzip'd user-data could not be unpacked (a `source::gzip` finding).
#[derive(Debug, thiserror::Error)]
pub enum GzipError {
    /// Not a whole gzip stream.
    #[error("the input starts like gzip but cannot be unpacked: {0}")]
    Corrupt(std::io::Error),
    /// More than [`MAX_USER_DATA`] once unpacked.
    #[error("the gzip'd input unpacks to more than {} MiB", MAX_USER_DATA / 1024 / 1024)]
    TooLarge,
}

fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, GzipError> {
    let decoder = flate2::read::MultiGzDecoder::new(bytes);
    let mut out = Vec::new();
    decoder
        .take(MAX_USER_DATA + 1)
        .read_to_end(&mut out)
        .map_err(GzipError::Corrupt)?;
    if out.len() as u64 > MAX_USER_DATA {
        return Err(GzipError::TooLarge);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal_node(src: &SourceFile) -> Node {
        let parsed = yaml::parse(&src.text, &src.index);
        let root = parsed.root.unwrap();
        root.as_mapping().unwrap()[0].value.clone()
    }

    #[test]
    fn block_lines_map_to_source_lines() {
        let text = "#cloud-config\nc: |\n\n  [Unit]\n  X=1\n".to_string();
        let (src, findings) = load("t", text.into_bytes());
        assert!(findings.is_empty());
        let node = literal_node(&src);
        let text = &node.as_scalar().unwrap().text;
        // value lines: "", "[Unit]", "X=1"
        let s = src.block_line_span(node.span, text, true, 1);
        assert_eq!(&src.text[s.start..s.end], "[Unit]");
        assert_eq!(src.position(s.start), Position { line: 4, column: 3 });
        let s = src.block_line_span(node.span, text, true, 2);
        assert_eq!(&src.text[s.start..s.end], "X=1");
    }

    #[test]
    fn gzip_is_unpacked() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(b"#cloud-config\nhostname: a\n").unwrap();
        let (src, findings) = load("t", enc.finish().unwrap());
        assert!(findings.is_empty());
        assert!(src.gzipped);
        assert_eq!(src.kind, UserData::CloudConfig);
    }

    #[test]
    fn broken_gzip_is_a_finding() {
        let (_, findings) = load("t", vec![0x1f, 0x8b, 1, 2, 3]);
        assert_eq!(findings[0].code(), "kindling::source::gzip");
    }

    #[test]
    fn invalid_utf8_points_at_the_byte() {
        let mut bytes = b"#cloud-config\nhostname: a".to_vec();
        bytes.push(0xff);
        let (_, findings) = load("t", bytes);
        assert_eq!(findings[0].code(), "kindling::source::utf8");
        assert_eq!(findings[0].span.start, 25);
    }
}
