//! Payloads: getting a release into the passive slot and proving it is the signed one.
//!
//! [`fetch`] streams the payload straight into the slot's byte region ([`Target`]: a file or
//! block device, an offset and a length; no second copy on disk), resumable with `Range`
//! (the prefix already in the region is read back and re-hashed, never trusted), through the
//! environment's proxies ([`ProxyEnv`]), with bounded waits ([`Timeouts`]) and a progress
//! callback. [`fetch_signature`] gets the minisign signature beside it (URL + `.minisig`).
//! `fetch` checks the size and the SHA-256 the update check announced over the bytes it
//! wrote; [`verify`] reads the region back after the sync and checks the signature over
//! those bytes against the [`TrustedKeys`].
//!
//! It owns the bytes of the region and nothing else: it never writes outside the region,
//! never creates or extends an image file, never touches the partition table, and never
//! makes a slot bootable. [`Verified`] can only be made by [`verify`], and only when every
//! check passed; the agent sets the slot's GPT attributes only after it holds one.
//! Every failure is a [`PayloadError`] variant with a [`Retry`] classification.

mod client;
mod error;
mod fetch;
mod keys;
mod progress;
mod region;
mod verify;

use base64::Engine as _;

pub use client::{ClientOptions, ProxyEnv, Timeouts, client};
pub use error::{HashPhase, PayloadError, Retry};
pub use fetch::{fetch, fetch_signature};
pub use keys::{KEY_DIRS, TrustedKey, TrustedKeys};
pub use progress::{fraction, terminal_bar};
pub use region::Target;
pub use verify::{precheck, verify};

/// What the update check promised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The payload's URL (codebase + package name), http:// or https://.
    pub url: String,
    /// Its size in bytes (the package's `size`).
    pub size: u64,
    /// Its SHA-256, base64 (the postinstall action's `sha256`).
    pub sha256_b64: String,
    /// Where the minisign signature is; `None` means `url` + `.minisig`.
    pub signature_url: Option<String>,
}

impl Expected {
    /// The signature's URL.
    #[must_use]
    pub fn signature_url(&self) -> String {
        self.signature_url
            .clone()
            .unwrap_or_else(|| format!("{}.minisig", self.url))
    }

    /// The expected digest, decoded.
    pub(crate) fn sha256(&self) -> Result<[u8; 32], PayloadError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.sha256_b64.trim())
            .map_err(|e| PayloadError::BadOffer {
                reason: format!("sha256 {:?} is not base64: {e}", self.sha256_b64),
            })?;
        let digest =
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| PayloadError::BadOffer {
                reason: format!(
                    "sha256 {:?} is {} bytes, not the 32 of a SHA-256",
                    self.sha256_b64,
                    bytes.len()
                ),
            })?;
        if self.size == 0 {
            return Err(PayloadError::BadOffer {
                reason: "the payload size is 0".into(),
            });
        }
        Ok(digest)
    }

    pub(crate) fn check_url(&self, url: &str) -> Result<(), PayloadError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| PayloadError::BadOffer {
            reason: format!("{url:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PayloadError::BadOffer {
                reason: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        Ok(())
    }
}

/// A finished download: every byte is in the region and synced, with the expected SHA-256
/// (computed while writing, and over the re-read prefix after a resume). Only [`fetch`]
/// makes one; [`verify`] needs it. Not yet verified against a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    size: u64,
    sha256: [u8; 32],
}

impl Fetched {
    /// Bytes in the region (the payload's size).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Their SHA-256.
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// Proof that the slot holds the signed payload: only [`verify`] makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    sha256: [u8; 32],
    size: u64,
    key_id: String,
    trusted_comment: String,
}

impl Verified {
    /// The payload's SHA-256 (the offer's, checked over the bytes written).
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The same, base64 (as Omaha writes it).
    #[must_use]
    pub fn sha256_b64(&self) -> String {
        fetch::b64(&self.sha256)
    }

    /// The payload's size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The id of the trusted key that signed it (upper-case hex, as minisign prints it).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The signature's trusted (signed) comment, e.g. `timestamp:... file:... hashed`.
    #[must_use]
    pub fn trusted_comment(&self) -> &str {
        &self.trusted_comment
    }
}
