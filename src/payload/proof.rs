//! What a payload has been through: [`Fetched`] (every byte is in the region with the
//! offer's SHA-256) and [`Verified`] (the slot holds the signed payload). Their fields are
//! private to the payload module, so outside it only `fetch` and `verify` can make one.

use base64::Engine as _;

/// A finished download: every byte is in the region and synced, with the expected SHA-256
/// (computed over the bytes read back from the region, block by block as they were written,
/// and over the re-read prefix after a resume). Only [`fetch`](crate::payload::fetch())
/// makes one; [`verify`](crate::payload::verify()) needs it. Not yet verified against a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    pub(super) size: u64,
    pub(super) sha256: [u8; 32],
    /// The signature checked over the same read-back bytes while writing, if one was.
    pub(super) signed: Option<Signed>,
}

/// A minisign signature checked by [`fetch_signed`](crate::payload::fetch_signed()) over the
/// bytes it read back from the region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Signed {
    /// The `.minisig` file's bytes.
    pub(super) signature: Vec<u8>,
    /// Whether it held.
    pub(super) valid: bool,
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

/// Proof that the slot holds the signed payload: only [`verify`](crate::payload::verify()) makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub(super) sha256: [u8; 32],
    pub(super) size: u64,
    pub(super) key_id: String,
    pub(super) trusted_comment: String,
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
        b64(&self.sha256)
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

/// Standard base64, as Omaha writes digests.
pub(super) fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
