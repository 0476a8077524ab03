//! [`CrauVerified`]: proof that an update_engine payload was applied and verified as a
//! whole: the offer's size and SHA-256 over every byte received, the RSA signature over
//! every byte before the signatures by a trusted key, the slot's `new_partition_info` and
//! the kernel's `new_info` read back. Its fields are private to the payload module, so only
//! [`fetch_crau`](super::fetch_crau) makes one.

use std::path::{Path, PathBuf};

use crate::payload::proof::b64;

/// The kernel the payload installed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KernelFile {
    pub(super) path: PathBuf,
    pub(super) size: u64,
    pub(super) sha256: [u8; 32],
}

impl KernelFile {
    /// The file the caller named (a temporary file the agent renames into `/boot`).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Its size (the procedure's `new_info.size`).
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Its SHA-256 (the procedure's `new_info.hash`, checked over the file read back).
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }
}

/// Proof that the slot (and the kernel file) hold a signed update_engine payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrauVerified {
    pub(super) size: u64,
    pub(super) sha256: [u8; 32],
    pub(super) key: String,
    pub(super) partition_size: u64,
    pub(super) partition_sha256: [u8; 32],
    pub(super) kernel: Option<KernelFile>,
    pub(super) operations: usize,
    pub(super) resumed: bool,
}

impl CrauVerified {
    /// The payload's size.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The payload's SHA-256 (the offer's, checked over the bytes received).
    #[must_use]
    pub fn sha256(&self) -> [u8; 32] {
        self.sha256
    }

    /// The same, base64 (as Omaha writes it).
    #[must_use]
    pub fn sha256_b64(&self) -> String {
        b64(&self.sha256)
    }

    /// The key that verified the signature: where it came from and its fingerprint.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// update_engine's payload format version (always 1).
    #[must_use]
    pub fn format_version(&self) -> u64 {
        1
    }

    /// The signature version that was checked (always 2, update_engine's).
    #[must_use]
    pub fn signature_version(&self) -> u32 {
        2
    }

    /// The `/usr` image's size in the slot (`new_partition_info.size`).
    #[must_use]
    pub fn partition_size(&self) -> u64 {
        self.partition_size
    }

    /// Its SHA-256 (`new_partition_info.hash`, checked over the slot read back).
    #[must_use]
    pub fn partition_sha256(&self) -> [u8; 32] {
        self.partition_sha256
    }

    /// The kernel, when the payload has one and a kernel path was given.
    #[must_use]
    pub fn kernel(&self) -> Option<&KernelFile> {
        self.kernel.as_ref()
    }

    /// How many operations the payload has.
    #[must_use]
    pub fn operations(&self) -> usize {
        self.operations
    }

    /// Whether this call continued from a resume point.
    #[must_use]
    pub fn resumed(&self) -> bool {
        self.resumed
    }
}
