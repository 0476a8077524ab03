//! The shape of a minisign signature file, checked when a release is published. The
//! signature itself is verified by the agent against its trusted keys; the server holds no
//! keys and only refuses a file that cannot be a minisign signature.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use base64::Engine as _;

/// The largest signature file accepted (a minisign signature is about 300 bytes).
const MAX_SIGNATURE_BYTES: u64 = 4096;

/// Why a signature file was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    /// The signature is missing or unreadable.
    #[error("signature {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The signature is not a minisign signature file.
    #[error(
        "signature {path} is not a minisign signature: {reason} (make one with `minisign -S -m PAYLOAD`)"
    )]
    Shape {
        /// The path.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Check that `path` holds a minisign signature: an untrusted comment line, a base64 line
/// of 74 bytes starting with the algorithm `Ed` or `ED`, a trusted comment line, and a
/// base64 line of 64 bytes (minisign's format). The signature itself is verified by the
/// agent against its trusted keys; the server holds no keys.
///
/// # Errors
/// [`SignatureError::Io`] or [`SignatureError::Shape`].
pub fn check(path: &Path) -> Result<(), SignatureError> {
    let io_err = |source| SignatureError::Io {
        path: path.to_path_buf(),
        source,
    };
    let bad = |reason: &str| SignatureError::Shape {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let file = File::open(path).map_err(io_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(io_err)?;
    if bytes.len() as u64 > MAX_SIGNATURE_BYTES {
        return Err(bad("it is larger than 4 KiB"));
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| bad("it is not text"))?;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 4 {
        return Err(bad("it has fewer than four lines"));
    }
    if !lines[0].starts_with("untrusted comment: ") {
        return Err(bad("line 1 is not an \"untrusted comment: \" line"));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let sig = b64
        .decode(lines[1].trim())
        .map_err(|_| bad("line 2 is not base64"))?;
    if sig.len() != 74 || !(sig.starts_with(b"Ed") || sig.starts_with(b"ED")) {
        return Err(bad(
            "line 2 is not an Ed25519 signature (74 bytes starting with Ed or ED)",
        ));
    }
    if !lines[2].starts_with("trusted comment: ") {
        return Err(bad("line 3 is not a \"trusted comment: \" line"));
    }
    let global = b64
        .decode(lines[3].trim())
        .map_err(|_| bad("line 4 is not base64"))?;
    if global.len() != 64 {
        return Err(bad("line 4 is not a 64-byte global signature"));
    }
    if lines[4..].iter().any(|l| !l.trim().is_empty()) {
        return Err(bad("it has text after the fourth line"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_minisign() {
        let tmp = tempfile::tempdir().unwrap();
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut first = b"Ed".to_vec();
        first.extend([7u8; 72]);
        let good = format!(
            "untrusted comment: x\n{}\ntrusted comment: y\n{}\n",
            b64.encode(&first),
            b64.encode([1u8; 64])
        );
        let cases = [
            (good.clone(), None),
            (
                "untrusted comment: x\n".to_string(),
                Some("fewer than four lines"),
            ),
            (good.replace("untrusted", "trusted"), Some("line 1")),
            (
                good.replace(&b64.encode(&first), "AAAA"),
                Some("line 2 is not an Ed25519"),
            ),
            (
                good.replace("trusted comment: y", "comment: y"),
                Some("line 3"),
            ),
            (good.clone() + "more\n", Some("after the fourth line")),
            ("x".repeat(5000), Some("larger than 4 KiB")),
        ];
        for (i, (text, want)) in cases.into_iter().enumerate() {
            let path = tmp.path().join(format!("{i}.minisig"));
            std::fs::write(&path, text).unwrap();
            match (check(&path), want) {
                (Ok(()), None) => {}
                (Err(e), Some(w)) => assert!(e.to_string().contains(w), "{i}: {e}"),
                (got, want) => panic!("{i}: {got:?} / {want:?}"),
            }
        }
    }
}
