//! minisign public keys as a config writes them: the two lines of a `.pub` file
//! (`untrusted comment: ...` and the base64 key) or the base64 line alone.
//!
//! Only the structure is checked, as minisign itself reads a key file: the comment prefix,
//! the base64, the `Ed` algorithm and the length (2 + 8 + 32 bytes: algorithm, key id,
//! Ed25519 public key). No cryptography happens here, and nothing does I/O; the rule
//! `kindling::update::signing-key` reports the errors and the plan writes the files.

use base64::Engine;

/// The first line of a key file starts with this (minisign's `COMMENT_PREFIX`).
pub const COMMENT_PREFIX: &str = "untrusted comment: ";

/// The signature algorithm of every minisign public key.
const ALGORITHM: &[u8; 2] = b"Ed";

/// Length of a decoded public key: algorithm, key id, Ed25519 key.
const KEY_LEN: usize = 2 + 8 + 32;

/// Length of a decoded secret key file's base64 line (what `minisign -G` writes to the
/// `.key` file), recognised to say what was pasted.
const SECRET_KEY_LEN: usize = 158;

/// A structurally valid minisign public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The comment after `untrusted comment: `, when the config gave one.
    pub comment: Option<String>,
    /// The base64 line as written (trimmed).
    pub base64: String,
    /// The decoded 42 bytes.
    pub bytes: [u8; KEY_LEN],
}

/// Why a text is not a minisign public key, and where: the line of the text (0-based,
/// counting the lines of the value as written) and the byte range in that line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyError {
    /// Which line of the value.
    pub line: usize,
    /// Bytes of that line (start, end); the whole line when nothing narrower applies.
    pub range: (usize, usize),
    /// What is wrong.
    pub problem: KeyProblem,
}

/// What is wrong with a `signing-keys` entry (one sentence each).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// Nothing but blanks.
    #[error("the entry is empty")]
    Empty,
    /// Two lines, the first not a comment.
    #[error(
        "the first of two lines must start with {COMMENT_PREFIX:?}, as in a minisign .pub file"
    )]
    NoCommentPrefix,
    /// Three lines or more.
    #[error("a minisign public key is two lines (the comment and the key), not more")]
    TooManyLines,
    /// The comment line alone.
    #[error("the comment line has no key line after it")]
    NoKeyLine,
    /// A character base64 does not have.
    #[error("{0:?} is not a base64 character")]
    NotBase64Char(char),
    /// base64 that does not decode.
    #[error("the key is not valid base64: {0}")]
    NotBase64(base64::DecodeError),
    /// A secret key pasted in.
    #[error(
        "this is a minisign SECRET key; never put it in a config (use the .pub file's lines, and make a new key pair: this one has leaked)"
    )]
    SecretKey,
    /// Not an Ed25519 key (the first two bytes, as text).
    #[error("the key's algorithm is {0:?}, not \"Ed\" (a minisign public key starts with \"RW\")")]
    Algorithm(String),
    /// The wrong number of bytes.
    #[error("the key is {0} bytes, a minisign public key is {KEY_LEN} (56 base64 characters)")]
    Length(usize),
}

/// The entry's comment (without its prefix), when it has one, and its key line (index
/// in the value, text without trailing blanks).
fn comment_and_key_line(text: &str) -> Result<(Option<String>, (usize, &str)), KeyError> {
    // (index in the value, the line without trailing blanks), blank lines skipped.
    let lines: Vec<(usize, &str)> = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i, l.trim_end()))
        .filter(|(_, l)| !l.trim().is_empty())
        .collect();
    let whole = |(i, l): (usize, &str), problem: KeyProblem| KeyError {
        line: i,
        range: (0, l.len()),
        problem,
    };
    match lines.as_slice() {
        [] => Err(KeyError {
            line: 0,
            range: (0, 0),
            problem: KeyProblem::Empty,
        }),
        [key] => Ok((None, *key)),
        [first, key] => {
            let Some(comment) = first.1.strip_prefix(COMMENT_PREFIX) else {
                return Err(whole(*first, KeyProblem::NoCommentPrefix));
            };
            Ok((Some(comment.to_string()), *key))
        }
        [_, _, third, ..] => Err(whole(*third, KeyProblem::TooManyLines)),
    }
}

impl PublicKey {
    /// Read a key from the text of a `signing-keys` entry.
    ///
    /// # Errors
    /// When the text is not the structure minisign reads.
    pub fn parse(text: &str) -> Result<PublicKey, KeyError> {
        let (comment, key_line) = comment_and_key_line(text)?;
        let (line, raw) = key_line;
        let lead = raw.len() - raw.trim_start().len();
        let b64 = raw.trim_start();
        let at = |from: usize, to: usize, problem: KeyProblem| KeyError {
            line,
            range: (lead + from, lead + to),
            problem,
        };
        if b64.starts_with(COMMENT_PREFIX.trim_end()) {
            return Err(at(0, b64.len(), KeyProblem::NoKeyLine));
        }
        if let Some(bad) = b64
            .char_indices()
            .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=')))
        {
            return Err(at(
                bad.0,
                bad.0 + bad.1.len_utf8(),
                KeyProblem::NotBase64Char(bad.1),
            ));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| at(0, b64.len(), KeyProblem::NotBase64(e)))?;
        let secret = decoded.len() == SECRET_KEY_LEN
            || comment.as_deref().is_some_and(|c| c.contains("secret key"));
        if secret {
            return Err(at(0, b64.len(), KeyProblem::SecretKey));
        }
        if decoded.get(..2) != Some(&ALGORITHM[..]) {
            return Err(at(
                0,
                b64.len().min(3),
                KeyProblem::Algorithm(
                    String::from_utf8_lossy(decoded.get(..2).unwrap_or(&decoded)).into_owned(),
                ),
            ));
        }
        let Ok(bytes) = <[u8; KEY_LEN]>::try_from(decoded.as_slice()) else {
            return Err(at(0, b64.len(), KeyProblem::Length(decoded.len())));
        };
        Ok(PublicKey {
            comment,
            base64: b64.to_string(),
            bytes,
        })
    }

    /// The key id as minisign reads it (little-endian).
    #[must_use]
    pub fn key_id(&self) -> u64 {
        let mut id = [0u8; 8];
        id.copy_from_slice(&self.bytes[2..10]);
        u64::from_le_bytes(id)
    }

    /// The key id as 16 uppercase hex digits, the file's name without `.pub`. (minisign
    /// prints it without leading zeros; a fixed width keeps the names sortable.)
    #[must_use]
    pub fn id_hex(&self) -> String {
        format!("{:016X}", self.key_id())
    }

    /// The file a trusting node holds: the comment as given (or the one `minisign -G`
    /// writes) and the key line, each ending in a newline, as `minisign -p` reads it.
    #[must_use]
    pub fn file_text(&self) -> String {
        let comment = self
            .comment
            .clone()
            .unwrap_or_else(|| format!("minisign public key {:X}", self.key_id()));
        format!("{COMMENT_PREFIX}{comment}\n{}\n", self.base64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Made with Debian's `minisign -G -W`.
    const PUB: &str = "untrusted comment: minisign public key 896E181ABF4DE40\nRWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh\n";
    const KEY: &str = "RWRA3vSrgeGWCBoYkoxfHkXsSB6PIeXHNLRZDDUJpzEDHCblePqbWQxh";

    #[test]
    fn both_forms_read() {
        let k = PublicKey::parse(PUB).unwrap();
        assert_eq!(k.key_id(), 0x0896_E181_ABF4_DE40);
        assert_eq!(k.id_hex(), "0896E181ABF4DE40");
        assert_eq!(k.file_text(), PUB);
        let bare = PublicKey::parse(KEY).unwrap();
        assert_eq!(bare.bytes, k.bytes);
        assert_eq!(bare.file_text(), PUB, "the comment minisign -G writes");
        assert!(PublicKey::parse(&format!("\n  {KEY}  \n\n")).is_ok());
    }

    #[test]
    fn structure_errors_point_at_the_problem() {
        let err = |t: &str| PublicKey::parse(t).unwrap_err();
        let e = err("comment: x\nRWRA");
        assert_eq!((e.line, e.range), (0, (0, 10)));
        let e = err(&KEY[..52]);
        assert!(e.problem.to_string().contains("39 bytes"), "{e:?}");
        let e = err(&format!("{}x", &KEY[..10]));
        assert!(e.problem.to_string().contains("base64"), "{e:?}");
        let e = err(&format!("  {}!{}", &KEY[..5], &KEY[6..]));
        assert_eq!((e.line, e.range), (0, (7, 8)));
        assert!(
            e.problem.to_string().contains("'!'"),
            "{}",
            e.problem.to_string()
        );
        // Another algorithm: "ED" (hashed) is a signature algorithm, never a key's.
        let e = err("RUQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
        assert!(
            e.problem.to_string().contains("algorithm"),
            "{}",
            e.problem.to_string()
        );
        let e = err("untrusted comment: minisign encrypted secret key\nRWQAAEIy");
        assert!(
            e.problem.to_string().contains("SECRET"),
            "{}",
            e.problem.to_string()
        );
        let e = err(&format!("{PUB}{KEY}\n"));
        assert_eq!(e.line, 2);
        assert!(
            err("untrusted comment: only a comment")
                .problem
                .to_string()
                .contains("no key line")
        );
        assert!(err("").problem.to_string().contains("empty"));
    }
}
