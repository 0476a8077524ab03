//! The RSA public keys an update_engine payload may be signed with: Flatcar's official
//! release key (`official-v2.pub.pem` from github:flatcar/scripts,
//! `coreos-base/coreos-au-key/files/`, built into kindling and always trusted), the node's
//! own `/usr/share/update_engine/update-payload-key.pub.pem` (what update_engine trusts),
//! and every `*.pem` in kindling's trusted-key directories (`/etc` hiding `/usr/share` by
//! file name, an empty file masking a key, exactly as for the minisign keys). Each key is
//! named by where it came from and a short fingerprint: the first 16 hex digits of the
//! SHA-256 of its DER `SubjectPublicKeyInfo` (`openssl pkey -pubin -outform DER | sha256sum`).

use std::path::{Path, PathBuf};

use rsa::pkcs8::{DecodePublicKey, EncodePublicKey};
use sha2::{Digest, Sha256};

use crate::payload::keys::key_files;

/// Flatcar's official update payload key, from github:flatcar/scripts @ ab6d76d9
/// (`sdk_container/src/third_party/coreos-overlay/coreos-base/coreos-au-key/files/official-v2.pub.pem`).
const FLATCAR_OFFICIAL: &str = include_str!("flatcar-official-v2.pub.pem");

/// What update_engine trusts, relative to the root.
pub const UPDATE_ENGINE_KEY: &str = "usr/share/update_engine/update-payload-key.pub.pem";

/// A PEM file larger than this is not an RSA public key.
const MAX_PEM: u64 = 16 * 1024;

/// One trusted RSA key.
#[derive(Debug, Clone)]
pub struct RsaKey {
    /// Where it came from: a path, or `Flatcar official key (built in)`.
    pub source: String,
    /// The first 16 hex digits of the SHA-256 of its DER form.
    pub fingerprint: String,
    pub(super) key: rsa::PublicKey,
}

impl RsaKey {
    /// `SOURCE (fingerprint FP)`, as messages name it.
    #[must_use]
    pub fn name(&self) -> String {
        format!("{} (fingerprint {})", self.source, self.fingerprint)
    }

    fn from_pem(source: String, pem: &str) -> Result<Self, String> {
        let key = rsa::PublicKey::from_public_key_pem(pem.trim())
            .map_err(|e| format!("not a PEM RSA public key: {e}"))?;
        let der = key
            .to_public_key_der()
            .map_err(|e| format!("cannot encode the key: {e}"))?;
        let digest = Sha256::digest(der.as_bytes());
        let fingerprint = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self {
            source,
            fingerprint,
            key,
        })
    }
}

/// The trusted RSA keys (never empty: the built-in key is always there).
#[derive(Debug, Clone)]
pub struct RsaKeys {
    keys: Vec<RsaKey>,
    /// Files that were not used, each with the reason (to be logged by the caller).
    pub skipped: Vec<String>,
}

impl RsaKeys {
    /// The built-in key, then `root`'s update_engine key, then the `*.pem` files of the
    /// trusted-key directories below `root`. A key trusted twice is listed once.
    #[must_use]
    pub fn load(root: &Path) -> Self {
        let mut keys = Vec::new();
        let mut skipped = Vec::new();
        match RsaKey::from_pem("Flatcar official key (built in)".into(), FLATCAR_OFFICIAL) {
            Ok(key) => keys.push(key),
            // Cannot happen (the text is fixed and tested); reported rather than panicking.
            Err(e) => skipped.push(format!("the built-in Flatcar key: {e}")),
        }
        let (mut files, dir_problems) = key_files(root, ".pem");
        skipped.extend(dir_problems);
        let ue = root.join(UPDATE_ENGINE_KEY);
        if ue.exists() {
            files.insert(0, ue);
        }
        for path in files {
            match read_pem(&path) {
                Ok(None) => skipped.push(format!("{}: empty, masks the key", path.display())),
                Ok(Some(key)) => {
                    if let Some(other) = keys.iter().find(|k| k.key == key.key) {
                        skipped.push(format!(
                            "{}: already trusted as {}",
                            path.display(),
                            other.name()
                        ));
                    } else {
                        keys.push(key);
                    }
                }
                Err(reason) => skipped.push(format!("{}: {reason}", path.display())),
            }
        }
        Self { keys, skipped }
    }

    /// The trusted keys, the built-in one first.
    #[must_use]
    pub fn keys(&self) -> &[RsaKey] {
        &self.keys
    }

    /// Every key's name.
    #[must_use]
    pub fn names(&self) -> Vec<String> {
        self.keys.iter().map(RsaKey::name).collect()
    }
}

/// Read one PEM file: `Ok(None)` for an empty file (a mask).
fn read_pem(path: &PathBuf) -> Result<Option<RsaKey>, String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file".into());
    }
    if meta.len() > MAX_PEM {
        return Err(format!("{} bytes, too large for a public key", meta.len()));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    if text.trim().is_empty() {
        return Ok(None);
    }
    RsaKey::from_pem(path.display().to_string(), &text).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_key_loads_with_openssls_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let keys = RsaKeys::load(dir.path());
        assert_eq!(keys.keys().len(), 1, "{:?}", keys.skipped);
        // openssl pkey -pubin -in official-v2.pub.pem -outform DER | sha256sum
        assert_eq!(keys.keys()[0].fingerprint, "a5880fbca6a5c51c");
        assert_eq!(
            keys.keys()[0].name(),
            "Flatcar official key (built in) (fingerprint a5880fbca6a5c51c)"
        );
    }

    #[test]
    fn etc_masks_usr_share_and_duplicates_are_listed_once() {
        let dir = tempfile::tempdir().unwrap();
        let etc = dir.path().join("etc/kindling/trusted-keys");
        let usr = dir.path().join("usr/share/kindling/trusted-keys");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::create_dir_all(&usr).unwrap();
        std::fs::write(usr.join("flatcar.pem"), FLATCAR_OFFICIAL).unwrap();
        std::fs::write(usr.join("other.pem"), FLATCAR_OFFICIAL).unwrap();
        std::fs::write(etc.join("other.pem"), "").unwrap();
        std::fs::write(etc.join("junk.pem"), "hello").unwrap();
        let keys = RsaKeys::load(dir.path());
        assert_eq!(keys.keys().len(), 1);
        let all = keys.skipped.join("\n");
        assert!(all.contains("other.pem: empty, masks the key"), "{all}");
        assert!(
            all.contains("flatcar.pem: already trusted as Flatcar official key"),
            "{all}"
        );
        assert!(all.contains("junk.pem: not a PEM RSA public key"), "{all}");
    }
}
