//! The trusted payload signing keys: every minisign public key file `*.pub` in
//! `ROOT/etc/kindling/trusted-keys/` and `ROOT/usr/share/kindling/trusted-keys/`. Several
//! keys may be trusted at once so a release key can be rotated (ship the new key, sign with
//! it, later remove the old one). A file in `/etc` overrides the file of the same name in
//! `/usr/share`, and an empty one there masks (revokes) it. A file that is not a minisign
//! public key is reported and skipped; only when no key is usable is it an error.

use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::PayloadError;

/// The directories, relative to the root, in order of precedence.
pub const KEY_DIRS: [&str; 2] = [
    "etc/kindling/trusted-keys",
    "usr/share/kindling/trusted-keys",
];

/// A key file larger than this is not a minisign public key (they are about 110 bytes).
const MAX_KEY_FILE: u64 = 4096;

/// One trusted key.
#[derive(Debug, Clone)]
pub struct TrustedKey {
    /// The key id as minisign prints it (upper-case hex without leading zeros).
    pub id: String,
    /// The file it came from.
    pub path: PathBuf,
    pub(crate) key: minisign_verify::PublicKey,
}

/// The set of trusted keys, and what was skipped while loading it.
#[derive(Debug, Clone)]
pub struct TrustedKeys {
    keys: Vec<TrustedKey>,
    /// Files that were not used, each with the reason (to be logged by the caller).
    pub skipped: Vec<String>,
}

impl TrustedKeys {
    /// Load every `*.pub` key below `root` (see the module documentation). Errors only when
    /// no key is usable.
    pub fn load(root: &Path) -> Result<Self, PayloadError> {
        let dirs: Vec<PathBuf> = KEY_DIRS.iter().map(|d| root.join(d)).collect();
        let (chosen, mut skipped) = key_files(root, ".pub");
        let mut keys: Vec<TrustedKey> = Vec::new();
        for path in chosen {
            match read_key(&path) {
                Ok(None) => skipped.push(format!("{}: empty, masks the key", path.display())),
                Ok(Some(key)) => {
                    if let Some(other) = keys.iter().find(|k| k.id == key.id) {
                        skipped.push(format!(
                            "{}: key {} is already trusted from {}",
                            path.display(),
                            key.id,
                            other.path.display()
                        ));
                    } else {
                        keys.push(key);
                    }
                }
                Err(reason) => skipped.push(format!("{}: {reason}", path.display())),
            }
        }
        if keys.is_empty() {
            return Err(PayloadError::NoTrustedKeys { dirs, skipped });
        }
        Ok(Self { keys, skipped })
    }

    /// The trusted keys, in the order they were found.
    #[must_use]
    pub fn keys(&self) -> &[TrustedKey] {
        &self.keys
    }

    /// The key with this id.
    #[must_use]
    pub fn find(&self, id: &str) -> Option<&TrustedKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// The ids of all trusted keys.
    #[must_use]
    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }
}

/// The key files named `*SUFFIX` in the trusted-key directories below `root`, a file in
/// `/etc` hiding the one of the same name in `/usr/share`, sorted by name within each
/// directory; and the directories that could not be read. An empty file is returned too
/// (its reader treats it as a mask).
pub(crate) fn key_files(root: &Path, suffix: &str) -> (Vec<PathBuf>, Vec<String>) {
    let mut skipped = Vec::new();
    // File name -> path, the first directory (/etc) winning.
    let mut chosen: Vec<(String, PathBuf)> = Vec::new();
    for dir in KEY_DIRS.iter().map(|d| root.join(d)) {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                skipped.push(format!("{}: cannot read the directory: {e}", dir.display()));
                continue;
            }
        };
        let mut names: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(suffix) && !n.starts_with('.'))
            .collect();
        names.sort();
        for name in names {
            if !chosen.iter().any(|(n, _)| *n == name) {
                chosen.push((name.clone(), dir.join(&name)));
            }
        }
    }
    (chosen.into_iter().map(|(_, p)| p).collect(), skipped)
}

/// Why a key file is skipped (its text follows the file's path in [`TrustedKeys::skipped`]).
#[derive(Debug, thiserror::Error)]
enum KeyFileProblem {
    #[error("cannot read: {0}")]
    Unreadable(std::io::Error),
    #[error("not a regular file")]
    NotAFile,
    #[error("{0} bytes, too large for a public key")]
    TooLarge(u64),
    #[error("not a minisign public key ({0}); expected the two lines `minisign -G` writes")]
    NotAKey(minisign_verify::Error),
    #[error("the key line has no key id")]
    NoKeyId,
}

/// Read one key file: `Ok(None)` for an empty file (a mask).
fn read_key(path: &Path) -> Result<Option<TrustedKey>, KeyFileProblem> {
    let meta = std::fs::metadata(path).map_err(KeyFileProblem::Unreadable)?;
    if !meta.is_file() && meta.len() != 0 {
        return Err(KeyFileProblem::NotAFile);
    }
    if meta.len() > MAX_KEY_FILE {
        return Err(KeyFileProblem::TooLarge(meta.len()));
    }
    let text = std::fs::read_to_string(path).map_err(KeyFileProblem::Unreadable)?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    let key =
        minisign_verify::PublicKey::decode(text.trim_start()).map_err(KeyFileProblem::NotAKey)?;
    // The decoder accepted the second line; the key id is its bytes 2..10 (little-endian),
    // which minisign prints in upper-case hex without leading zeros.
    let line = text.trim_start().lines().nth(1).unwrap_or_default();
    let id = key_id_of(line).ok_or(KeyFileProblem::NoKeyId)?;
    Ok(Some(TrustedKey {
        id,
        path: path.to_path_buf(),
        key,
    }))
}

/// The key id minisign prints for a base64 key or signature line (algorithm, then the
/// 8-byte key id, stored little-endian).
pub(crate) fn key_id_of(b64_line: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64_line.trim())
        .ok()?;
    let id: [u8; 8] = bytes.get(2..10)?.try_into().ok()?;
    Some(format!("{:X}", u64::from_le_bytes(id)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_matches_minisign() {
        // From `minisign -G`: "untrusted comment: minisign public key 7092FBB0E1595542".
        assert_eq!(
            key_id_of("RWRCVVnhsPuScFmPhk4PFZ+eKh/rTqwODs41PB05JhQ0q73XZj70nQVD").as_deref(),
            Some("7092FBB0E1595542")
        );
        assert_eq!(key_id_of("not base64!"), None);
        // minisign prints no leading zeros ("%" PRIX64).
        let mut raw = vec![0x45, 0x64];
        raw.extend_from_slice(&0x0C57_7D52_3EA1_E678u64.to_le_bytes());
        raw.extend_from_slice(&[0u8; 32]);
        let line = base64::engine::general_purpose::STANDARD.encode(raw);
        assert_eq!(key_id_of(&line).as_deref(), Some("C577D523EA1E678"));
    }
}
