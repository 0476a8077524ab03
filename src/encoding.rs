//! Decoding `write_files` content the way coreos-cloudinit does on a node.
//!
//! Encodings: `base64`/`b64`, `gz`/`gzip` (raw gzip bytes, given with `!!binary`), and the
//! four `gz+base64` spellings. Base64 is Go's `StdEncoding`: padding required, `\r` and
//! `\n` ignored anywhere, nothing else tolerated. Gzip streams may be concatenated.
//! Output is capped at [`MAX_DECODED`] so a gzip bomb is a finding, not an outage.
//! And the one percent-encoder ([`percent_encode`]) the URLs kindling writes share (Ignition's
//! `data:` URLs, etcd v2 key paths). Pure functions; no I/O.

use std::io::Read;

use base64::Engine;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Largest decoded file accepted.
pub const MAX_DECODED: u64 = 64 * 1024 * 1024;

/// Every encoding coreos-cloudinit understands.
pub const ENCODINGS: [&str; 8] = [
    "base64",
    "b64",
    "gz",
    "gzip",
    "gz+base64",
    "gzip+base64",
    "gz+b64",
    "gzip+b64",
];

const GO_STD: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);

/// Why content could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not base64.
    #[error("it is not valid base64 ({0})")]
    Base64(String),
    /// Not a gzip stream.
    #[error("it is not a valid gzip stream ({0})")]
    Gzip(String),
    /// Too big once decoded.
    #[error("it decodes to more than {} MiB", MAX_DECODED / 1024 / 1024)]
    TooLarge,
    /// An encoding coreos-cloudinit does not know.
    #[error("{0:?} is not an encoding")]
    Unknown(String),
}

/// Decode base64 the way Go's `base64.StdEncoding.DecodeString` does.
///
/// # Errors
/// When the text is not valid padded standard base64.
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let cleaned: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| *b != b'\n' && *b != b'\r')
        .collect();
    GO_STD.decode(&cleaned).map_err(|e| {
        DecodeError::Base64(match e {
            base64::DecodeError::InvalidByte(at, byte) => format!(
                "{:?} at character {} is not a base64 character",
                char::from(byte),
                at + 1
            ),
            base64::DecodeError::InvalidLength(len) => {
                format!("{len} characters is not a whole number of 4-character groups")
            }
            base64::DecodeError::InvalidLastSymbol(at, byte) => format!(
                "the last symbol {:?} at character {} leaves stray bits",
                char::from(byte),
                at + 1
            ),
            base64::DecodeError::InvalidPadding => {
                "the '=' padding is missing or misplaced".to_string()
            }
        })
    })
}

/// Decode the text of a `!!binary` scalar.
///
/// # Errors
/// When it is not valid base64.
pub fn decode_binary_tag(text: &str) -> Result<Vec<u8>, DecodeError> {
    // go-yaml passes the resolved scalar text to StdEncoding; a folded plain scalar
    // has its line breaks turned into spaces, which StdEncoding refuses.
    decode_base64(text.as_bytes())
}

/// Gunzip (concatenated members allowed), capped at [`MAX_DECODED`].
///
/// # Errors
/// When the bytes are not gzip or decode to too much.
pub fn gunzip(bytes: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let mut out = Vec::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .take(MAX_DECODED + 1)
        .read_to_end(&mut out)
        .map_err(|e| DecodeError::Gzip(e.to_string()))?;
    if out.len() as u64 > MAX_DECODED {
        return Err(DecodeError::TooLarge);
    }
    Ok(out)
}

/// Decode `content` given in `encoding` (empty: as is).
///
/// # Errors
/// When the encoding is unknown or the content does not decode.
pub fn decode(content: &[u8], encoding: &str) -> Result<Vec<u8>, DecodeError> {
    match encoding {
        "" => Ok(content.to_vec()),
        "base64" | "b64" => decode_base64(content),
        "gz" | "gzip" => gunzip(content),
        "gz+base64" | "gzip+base64" | "gz+b64" | "gzip+b64" => gunzip(&decode_base64(content)?),
        other => Err(DecodeError::Unknown(other.to_string())),
    }
}

/// Percent-encoding as Go's `url` package writes it: ASCII letters and digits and the bytes
/// in `keep` stay, every other byte becomes `%XX` (upper-case hex).
#[must_use]
pub fn percent_encode(bytes: &[u8], keep: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for &b in bytes {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_decode_cases() {
        // coreos-cloudinit's TestNewCloudConfigDecode.
        for enc in ["base64", "b64"] {
            assert_eq!(decode(b"YmFy", enc).unwrap(), b"bar");
        }
        for enc in ["gz+base64", "gzip+base64", "gz+b64", "gzip+b64"] {
            assert_eq!(
                decode(b"H4sIABMVh1QAA0tKLAIAqoz/dgMAAAA=", enc).unwrap(),
                b"bar"
            );
        }
    }

    #[test]
    fn go_base64_rules() {
        assert_eq!(decode_base64(b"aGVs\nbG8K\r\n").unwrap(), b"hello\n");
        assert!(decode_base64(b"aGVsbG8K ").is_err(), "spaces are refused");
        assert!(decode_base64(b"aGVsbG8").is_err(), "padding is required");
        assert!(decode_base64(b"hello\n").is_err());
        assert!(decode(b"x", "custom").is_err());
        assert!(gunzip(b"").is_err());
    }

    #[test]
    fn gzip_bombs_are_capped() {
        use std::io::Write;
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = vec![0u8; 1 << 20];
        for _ in 0..65 {
            enc.write_all(&chunk).unwrap();
        }
        let gz = enc.finish().unwrap();
        assert_eq!(gunzip(&gz), Err(DecodeError::TooLarge));
    }
}
