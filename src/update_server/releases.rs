//! The release index of the channel directory, and publishing a release into it.
//!
//! A release becomes visible in one step: its files are written into a temporary directory,
//! fsynced, renamed to `VERSION`, and only then is it added to `releases.json` (itself
//! replaced atomically under the directory lock). A crash in between leaves a directory no
//! index names; the next publish of that version replaces it.

use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use sha1::Digest as _;
use thiserror::Error;

use super::directory::{
    self, DirectoryError, PACKAGES_DIR, RELEASES_FILE, io_at, lock, now_secs, read_json, write_json,
};
use super::signature::SignatureError;

/// One published release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Release {
    /// The channel (the clients' `track`/`GROUP`).
    pub channel: String,
    /// Its semver version.
    pub version: String,
    /// The payload's file name (the Omaha package name).
    pub name: String,
    /// The payload's size in bytes.
    pub size: u64,
    /// Base64 SHA-256 of the payload.
    pub sha256: String,
    /// Base64 SHA-1 of the payload (go-omaha's and Nebraska's `hash`).
    pub sha1: String,
    /// When it was published, Unix seconds.
    pub published: u64,
    /// Set for an update_engine (CrAU) payload, which carries its own signature (no
    /// `.minisig` beside it); absent for kindling's own format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crau: Option<CrauRelease>,
}

/// What publishing found in a CrAU payload.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrauRelease {
    /// The trusted key whose signature verified it at publish time.
    pub key: String,
}

impl Release {
    /// The URL path of the directory holding the payload and signature (ends with `/`).
    #[must_use]
    pub fn url_dir(&self) -> String {
        format!("/{PACKAGES_DIR}/{}/{}/", self.channel, self.version)
    }

    /// The payload's path under `dir`.
    #[must_use]
    pub fn payload_path(&self, dir: &Path) -> PathBuf {
        self.files_dir(dir).join(&self.name)
    }

    /// The signature's path under `dir`; `None` for a CrAU payload (signed inside).
    #[must_use]
    pub fn signature_path(&self, dir: &Path) -> Option<PathBuf> {
        self.crau
            .is_none()
            .then(|| self.files_dir(dir).join(format!("{}.minisig", self.name)))
    }

    fn files_dir(&self, dir: &Path) -> PathBuf {
        dir.join(PACKAGES_DIR)
            .join(&self.channel)
            .join(&self.version)
    }

    /// The version, parsed (published versions are always semver).
    #[must_use]
    pub fn semver(&self) -> Option<semver::Version> {
        semver::Version::parse(&self.version).ok()
    }
}

/// The release index.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Releases {
    /// Every release, in publication order.
    pub releases: Vec<Release>,
}

impl Releases {
    /// The newest release of `channel` by semver precedence.
    #[must_use]
    pub fn newest(&self, channel: &str) -> Option<&Release> {
        self.releases
            .iter()
            .filter(|r| r.channel == channel)
            .filter_map(|r| r.semver().map(|v| (v, r)))
            .max_by(|(a, _), (b, _)| a.cmp_precedence(b))
            .map(|(_, r)| r)
    }

    /// The release `version` of `channel`.
    #[must_use]
    pub fn find(&self, channel: &str, version: &str) -> Option<&Release> {
        self.releases
            .iter()
            .find(|r| r.channel == channel && r.version == version)
    }
}

/// Why `publish` refused.
#[derive(Debug, Error)]
pub enum PublishError {
    /// The channel name is not usable.
    #[error(
        "channel {0:?} is not a valid name: use letters, digits, '.', '_' and '-', not starting with '.'"
    )]
    Channel(String),
    /// The version is not semver.
    #[error("version {version:?} is not a semantic version (like 3033.2.0): {reason}")]
    Version {
        /// The version given.
        version: String,
        /// semver's reason.
        reason: String,
    },
    /// The version (by semver precedence) is already published in the channel.
    #[error(
        "version {version} is already published in channel {channel} (as {existing}); publish a new version instead"
    )]
    Duplicate {
        /// The channel.
        channel: String,
        /// The version given.
        version: String,
        /// The version already there.
        existing: String,
    },
    /// The payload name is not usable in a URL.
    #[error(
        "payload name {0:?} is not usable: use letters, digits, '.', '_', '+' and '-', not starting with '.' (or pass --name)"
    )]
    Name(String),
    /// The payload is missing or unreadable.
    #[error("payload {path}: {source}")]
    Payload {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// The payload is empty (update_engine refuses size 0).
    #[error("payload {0} is empty; update_engine refuses a package of size 0")]
    EmptyPayload(PathBuf),
    /// The signature is missing, unreadable or not a minisign signature file.
    #[error(transparent)]
    Signature(#[from] SignatureError),
    /// A payload in kindling's format was given without its minisign signature.
    #[error(
        "payload {0} is not an update_engine (CrAU) payload, so it needs its minisign \
         signature: pass --signature FILE.minisig"
    )]
    SignatureNeeded(PathBuf),
    /// A CrAU payload was given with a `.minisig`: it carries its own signature.
    #[error(
        "payload {0} is an update_engine (CrAU) payload, signed inside; drop --signature \
         (its RSA signature is checked against the --trusted-key keys)"
    )]
    SignatureNotUsed(PathBuf),
    /// A CrAU payload that is corrupt, unsigned, or signed by no trusted key.
    #[error("payload {path} refused: {reason}")]
    Crau {
        /// The payload.
        path: PathBuf,
        /// Why (the reader's message).
        reason: String,
    },
    /// Writing into the directory failed.
    #[error(transparent)]
    Directory(#[from] DirectoryError),
}

/// What to publish.
#[derive(Debug, Clone)]
pub struct PublishRequest<'a> {
    /// The channel.
    pub channel: &'a str,
    /// The semver version.
    pub version: &'a str,
    /// The payload file.
    pub payload: &'a Path,
    /// The minisign signature of the payload (kindling's format only).
    pub signature: Option<&'a Path>,
    /// PEM public keys (files, or directories of `*.pem`) trusted to have signed a CrAU
    /// payload, besides Flatcar's official key.
    pub trusted_keys: &'a [PathBuf],
    /// The package name (default: the payload's file name).
    pub name: Option<&'a str>,
}

/// Whether `name` is a usable channel name.
#[must_use]
pub fn valid_channel(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && !name.ends_with(".minisig")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'))
}

/// Add a release: validate, copy payload and signature in atomically (hashing while
/// copying), then add it to the index under the directory lock.
///
/// # Errors
/// [`PublishError`], one variant per refusal.
pub fn publish(dir: &Path, req: &PublishRequest<'_>) -> Result<Release, PublishError> {
    if !valid_channel(req.channel) {
        return Err(PublishError::Channel(req.channel.to_string()));
    }
    let version = semver::Version::parse(req.version).map_err(|e| PublishError::Version {
        version: req.version.to_string(),
        reason: e.to_string(),
    })?;
    let name = match req.name {
        Some(n) => n.to_string(),
        None => req
            .payload
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    };
    if !valid_name(&name) {
        return Err(PublishError::Name(name));
    }
    let payload_err = |source| PublishError::Payload {
        path: req.payload.to_path_buf(),
        source,
    };
    let meta = fs::metadata(req.payload).map_err(payload_err)?;
    if !meta.is_file() {
        return Err(payload_err(io::Error::other("not a regular file")));
    }
    if meta.len() == 0 {
        return Err(PublishError::EmptyPayload(req.payload.to_path_buf()));
    }
    let crau = check_signature(req)?;
    fs::create_dir_all(dir).map_err(|e| io_at(dir, e))?;
    let _lock = lock(dir)?;
    let index = load_releases(dir)?;
    if let Some(existing) = index
        .releases
        .iter()
        .filter(|r| r.channel == req.channel)
        .find(|r| {
            r.semver()
                .is_some_and(|v| v.cmp_precedence(&version).is_eq())
        })
    {
        return Err(PublishError::Duplicate {
            channel: req.channel.to_string(),
            version: req.version.to_string(),
            existing: existing.version.clone(),
        });
    }
    let channel_dir = dir.join(PACKAGES_DIR).join(req.channel);
    fs::create_dir_all(&channel_dir).map_err(|e| io_at(&channel_dir, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".publish-")
        .tempdir_in(&channel_dir)
        .map_err(|e| io_at(&channel_dir, e))?;
    let (size, sha256, sha1) = copy_hashing(req.payload, &tmp.path().join(&name))?;
    if size == 0 {
        return Err(PublishError::EmptyPayload(req.payload.to_path_buf()));
    }
    if let Some(signature) = req.signature {
        let sig_dest = tmp.path().join(format!("{name}.minisig"));
        fs::copy(signature, &sig_dest).map_err(|source| SignatureError::Io {
            path: signature.to_path_buf(),
            source,
        })?;
        File::open(&sig_dest)
            .and_then(|f| f.sync_all())
            .map_err(|e| io_at(&sig_dest, e))?;
    }
    directory::sync_dir(tmp.path())?;
    let final_dir = channel_dir.join(req.version);
    if final_dir.exists() {
        // Left by a publish that crashed before updating the index (checked above).
        fs::remove_dir_all(&final_dir).map_err(|e| io_at(&final_dir, e))?;
    }
    let tmp_path = tmp.keep();
    fs::rename(&tmp_path, &final_dir).map_err(|e| io_at(&final_dir, e))?;
    directory::sync_dir(&channel_dir)?;
    let release = Release {
        channel: req.channel.to_string(),
        version: req.version.to_string(),
        name,
        size,
        sha256,
        sha1,
        published: now_secs(),
        crau,
    };
    let mut index = index;
    index.releases.push(release.clone());
    write_json(&dir.join(RELEASES_FILE), &index)?;
    Ok(release)
}

/// The payload's format decides its signature: kindling's needs a minisign-shaped
/// `.minisig`; a CrAU payload needs none and must verify against the trusted keys.
fn check_signature(req: &PublishRequest<'_>) -> Result<Option<CrauRelease>, PublishError> {
    let is_crau =
        super::crau_check::is_crau(req.payload).map_err(|source| PublishError::Payload {
            path: req.payload.to_path_buf(),
            source,
        })?;
    match (is_crau, req.signature) {
        (true, Some(_)) => Err(PublishError::SignatureNotUsed(req.payload.to_path_buf())),
        (true, None) => {
            let key =
                super::crau_check::verify(req.payload, req.trusted_keys).map_err(|reason| {
                    PublishError::Crau {
                        path: req.payload.to_path_buf(),
                        reason,
                    }
                })?;
            Ok(Some(CrauRelease { key }))
        }
        (false, Some(signature)) => {
            super::signature::check(signature)?;
            Ok(None)
        }
        (false, None) => Err(PublishError::SignatureNeeded(req.payload.to_path_buf())),
    }
}

fn copy_hashing(from: &Path, to: &Path) -> Result<(u64, String, String), PublishError> {
    let mut input = File::open(from).map_err(|source| PublishError::Payload {
        path: from.to_path_buf(),
        source,
    })?;
    let mut output = File::create(to).map_err(|e| io_at(to, e))?;
    let mut sha256 = sha2::Sha256::new();
    let mut sha1 = sha1::Sha1::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = input
            .read(&mut buf)
            .map_err(|source| PublishError::Payload {
                path: from.to_path_buf(),
                source,
            })?;
        if n == 0 {
            break;
        }
        sha256.update(&buf[..n]);
        sha1.update(&buf[..n]);
        output.write_all(&buf[..n]).map_err(|e| io_at(to, e))?;
        size += n as u64;
    }
    output.sync_all().map_err(|e| io_at(to, e))?;
    let b64 = base64::engine::general_purpose::STANDARD;
    Ok((
        size,
        b64.encode(sha256.finalize()),
        b64.encode(sha1.finalize()),
    ))
}

/// Read the release index (empty when there is none yet).
///
/// # Errors
/// [`DirectoryError`] when it cannot be read or parsed.
pub fn load_releases(dir: &Path) -> Result<Releases, DirectoryError> {
    read_json(&dir.join(RELEASES_FILE))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig(dir: &Path) -> PathBuf {
        let b64 = base64::engine::general_purpose::STANDARD;
        let mut first = b"ED".to_vec();
        first.extend([7u8; 72]);
        let text = format!(
            "untrusted comment: signature from minisign secret key\n{}\ntrusted comment: timestamp:1\tfile:p\n{}\n",
            b64.encode(first),
            b64.encode([1u8; 64])
        );
        let path = dir.join("p.minisig");
        fs::write(&path, text).unwrap();
        path
    }

    fn stable_1_0_0<'a>(payload: &'a Path, signature: &'a Path) -> PublishRequest<'a> {
        PublishRequest {
            channel: "stable",
            version: "1.0.0",
            payload,
            signature: Some(signature),
            trusted_keys: &[],
            name: None,
        }
    }

    #[test]
    fn publishes_and_refuses_duplicates() {
        let tmp = tempfile::tempdir().unwrap();
        let payload = tmp.path().join("update.gz");
        fs::write(&payload, b"hello").unwrap();
        let signature = sig(tmp.path());
        let dir = tmp.path().join("srv");
        let req = stable_1_0_0(&payload, &signature);
        let r = publish(&dir, &req).unwrap();
        assert_eq!(r.size, 5);
        assert_eq!(r.sha256, "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ=");
        assert_eq!(fs::read(r.payload_path(&dir)).unwrap(), b"hello");
        assert!(r.signature_path(&dir).unwrap().is_file());
        assert!(matches!(
            publish(&dir, &req),
            Err(PublishError::Duplicate { .. })
        ));
        let at = |version| PublishRequest {
            version,
            ..req.clone()
        };
        assert!(matches!(
            publish(&dir, &at("1.0.0+build")),
            Err(PublishError::Duplicate { .. })
        ));
        publish(&dir, &at("1.10.0")).unwrap();
        publish(&dir, &at("1.9.0")).unwrap();
        let index = load_releases(&dir).unwrap();
        assert_eq!(index.newest("stable").unwrap().version, "1.10.0");
        assert!(index.newest("beta").is_none());
    }

    #[test]
    fn refuses_bad_input() {
        let tmp = tempfile::tempdir().unwrap();
        let payload = tmp.path().join("update.gz");
        fs::write(&payload, b"x").unwrap();
        let empty = tmp.path().join("empty.gz");
        fs::write(&empty, b"").unwrap();
        let signature = sig(tmp.path());
        let junk = tmp.path().join("junk.minisig");
        fs::write(&junk, "not a signature\n").unwrap();
        let dir = tmp.path().join("srv");
        let base = stable_1_0_0(&payload, &signature);
        let cases: Vec<(PublishRequest<'_>, &str)> = vec![
            (
                PublishRequest {
                    version: "1.0",
                    ..base.clone()
                },
                "semantic version",
            ),
            (
                PublishRequest {
                    channel: "../x",
                    ..base.clone()
                },
                "not a valid name",
            ),
            (
                PublishRequest {
                    payload: &empty,
                    ..base.clone()
                },
                "is empty",
            ),
            (
                PublishRequest {
                    payload: Path::new("/nonexistent/p"),
                    ..base.clone()
                },
                "No such file",
            ),
            (
                PublishRequest {
                    signature: Some(&junk),
                    ..base.clone()
                },
                "not a minisign signature",
            ),
            (
                PublishRequest {
                    name: Some("a/b"),
                    ..base.clone()
                },
                "not usable",
            ),
            (
                PublishRequest {
                    signature: None,
                    ..base.clone()
                },
                "needs its minisign signature",
            ),
        ];
        for (req, want) in cases {
            let err = publish(&dir, &req).unwrap_err().to_string();
            assert!(err.contains(want), "{err}");
        }
        assert!(load_releases(&dir).unwrap().releases.is_empty());
    }
}
