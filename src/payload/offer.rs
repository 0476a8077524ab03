//! [`Expected`]: what the update check promised about a payload (its URL, size, SHA-256 and
//! signature URL), and the checks that an offer is usable before anything is downloaded.

use base64::Engine as _;

use super::PayloadError;

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
