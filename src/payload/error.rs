//! Every way getting a payload can fail, each its own variant with a message that says what
//! happened, where, and what to do, and a [`Retry`] classification the agent turns into
//! backoff: a transient fault is retried (resuming or from byte 0), a fault of the payload,
//! its signature, the keys or the local disk is not, because trying again cannot fix it.

use std::path::PathBuf;
use std::time::Duration;

/// What the agent should do after a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Try again later with backoff, resuming at the bytes already written (they are
    /// re-hashed from the region, so passing a stale count is safe).
    Resume,
    /// Try again later with backoff, but from byte 0: what is in the region is not a prefix
    /// of this payload.
    Restart,
    /// Do not retry this payload; report the error event and wait for the next update check
    /// (a new release, a fixed server, a new key or an operator).
    Never,
}

/// Why the region does not match what was expected after the bytes were hashed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashPhase {
    /// While downloading a fresh copy (byte 0 onwards).
    Download,
    /// While downloading after a resumed prefix: the prefix or the rest may be wrong.
    Resumed,
    /// Reading the region back for verification.
    ReadBack,
}

/// A failure to download or verify a payload.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    /// The update check's answer cannot be used as is.
    #[error("the update offer is unusable: {reason}")]
    BadOffer {
        /// What is wrong.
        reason: String,
    },
    /// A proxy variable holds something that is not an http:// or https:// URL.
    #[error(
        "{var}={value:?} is not a usable proxy ({reason}); set it to http://HOST:PORT or unset it"
    )]
    Proxy {
        /// The environment variable.
        var: String,
        /// Its value.
        value: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// The HTTP client could not be set up (e.g. an unreadable CA certificate).
    #[error("cannot set up the HTTP client: {reason}")]
    Client {
        /// What went wrong.
        reason: String,
    },
    /// No trusted key could be loaded: nothing can be verified, so nothing is installed.
    #[error(
        "no trusted payload signing key: no usable minisign public key (*.pub) in {}{}; \
         install the release signing key there (coreos.update.signing-keys in the cloud-config)",
        dirs.iter().map(|d| d.display().to_string()).collect::<Vec<_>>().join(" or "),
        if skipped.is_empty() { String::new() } else { format!(" (skipped: {})", skipped.join("; ")) }
    )]
    NoTrustedKeys {
        /// The directories searched.
        dirs: Vec<PathBuf>,
        /// Files that were found but could not be used, with the reason.
        skipped: Vec<String>,
    },
    /// The region is not a regular file or block device, or cannot be opened or sized.
    #[error("cannot use {} as a slot: {reason}", path.display())]
    RegionUnusable {
        /// The image file or device.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The payload does not fit into the slot; refused before downloading anything.
    #[error(
        "the payload is {size} bytes but the slot at offset {offset} of {} holds only {len}; \
         the partition is too small for this release",
        path.display()
    )]
    RegionTooSmall {
        /// The image file or device.
        path: PathBuf,
        /// The region's offset.
        offset: u64,
        /// The region's length.
        len: u64,
        /// The payload's size.
        size: u64,
    },
    /// The region reaches past the end of the file or device.
    #[error(
        "the slot {offset}..{end} reaches past the end of {} ({device_len} bytes); \
         the partition table does not match the disk",
        path.display()
    )]
    RegionOutsideDevice {
        /// The image file or device.
        path: PathBuf,
        /// The region's offset.
        offset: u64,
        /// The region's end.
        end: u64,
        /// The size of the file or device.
        device_len: u64,
    },
    /// Writing stopped because the file or device is full (ENOSPC, EFBIG, a write of 0 bytes).
    #[error(
        "no space left writing {} at byte {at}: {source}; the image file's file system or the \
         device is full",
        path.display()
    )]
    RegionFull {
        /// The image file or device.
        path: PathBuf,
        /// The byte offset within the file where the write failed.
        at: u64,
        /// The error.
        source: std::io::Error,
    },
    /// Another I/O error on the region.
    #[error("cannot {op} {} at byte {at}: {source}", path.display())]
    RegionIo {
        /// What was being done (`read`, `write`, `sync`).
        op: &'static str,
        /// The image file or device.
        path: PathBuf,
        /// The byte offset within the file.
        at: u64,
        /// The error.
        source: std::io::Error,
    },
    /// The server could not be reached (DNS, refused, connect timeout, TLS, proxy).
    #[error("cannot connect to {url}: {reason}")]
    Connect {
        /// The URL.
        url: String,
        /// The error, with its causes.
        reason: String,
    },
    /// No byte arrived for too long.
    #[error("{url} stalled: nothing received for {}s (at byte {at})", after.as_secs_f64())]
    Stalled {
        /// The URL.
        url: String,
        /// Bytes of the payload done when it stalled.
        at: u64,
        /// The stall timeout.
        after: Duration,
    },
    /// Bytes arrive, but slower than the low-speed limit.
    #[error(
        "{url} is too slow: {rate} bytes/s over the last {}s, below the limit of {limit} bytes/s (at byte {at})",
        window.as_secs_f64()
    )]
    TooSlow {
        /// The URL.
        url: String,
        /// Bytes of the payload done.
        at: u64,
        /// The measured rate.
        rate: u64,
        /// The limit.
        limit: u64,
        /// The window the rate was measured over.
        window: Duration,
    },
    /// The connection was reset or aborted mid-way.
    #[error("the connection to {url} was reset at byte {at}")]
    ConnectionReset {
        /// The URL.
        url: String,
        /// Bytes of the payload done.
        at: u64,
    },
    /// The body ended before the payload was complete.
    #[error("the download from {url} ended at byte {at} of {size}")]
    Truncated {
        /// The URL.
        url: String,
        /// Bytes of the payload done.
        at: u64,
        /// The payload's size.
        size: u64,
    },
    /// Another transfer error (HTTP framing, TLS, a malformed Content-Range).
    #[error("download from {url} failed at byte {at}: {reason}")]
    Transfer {
        /// The URL.
        url: String,
        /// Bytes of the payload done.
        at: u64,
        /// What happened.
        reason: String,
    },
    /// A 4xx answer (the request or the URL is wrong; retrying the same URL will not help).
    #[error("{url} answered {status}; the update server's URL for this release is wrong")]
    ClientError {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// A 5xx answer, 408 or 429 (the server has a problem now).
    #[error("{url} answered {status}; will retry")]
    ServerError {
        /// The URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server's size disagrees with the update check's.
    #[error("{url}: {what} is {got} bytes but the update offer says {expected}")]
    SizeMismatch {
        /// The URL.
        url: String,
        /// Where the other size came from (`Content-Length`, `the body`, ...).
        what: &'static str,
        /// The size found.
        got: u64,
        /// The size the update check announced.
        expected: u64,
    },
    /// The SHA-256 of the bytes is not the one the update check announced.
    #[error(
        "the payload's SHA-256 is {actual} but the update offer says {expected}{}",
        match phase {
            HashPhase::Download => " (the server's file differs from the release)",
            HashPhase::Resumed => " (after resuming: the slot's prefix or the server's file changed; starting over)",
            HashPhase::ReadBack => " (read back from the slot: the slot does not hold what was downloaded)",
        }
    )]
    HashMismatch {
        /// The expected digest, base64.
        expected: String,
        /// The digest found, base64.
        actual: String,
        /// When it was found.
        phase: HashPhase,
    },
    /// The signature file is absent (404).
    #[error("no signature at {url} (404): an unsigned payload is never installed")]
    SignatureMissing {
        /// The signature's URL.
        url: String,
    },
    /// The signature file is not a minisign signature.
    #[error("the signature is not a minisign signature: {reason}")]
    MalformedSignature {
        /// Why.
        reason: String,
    },
    /// A legacy (non-prehashed) minisign signature: verifying it needs the whole payload in
    /// memory, so it is refused.
    #[error(
        "the signature by key {key_id} is a legacy minisign signature (`Ed`, `minisign -S -l`); \
         kindling verifies prehashed signatures (`ED`, what `minisign -S` makes by default) only; \
         sign the payload again without -l"
    )]
    LegacySignature {
        /// The signing key's id.
        key_id: String,
    },
    /// The payload is signed, but by a key that is not trusted.
    #[error(
        "the payload is signed by key {key_id}, which is not trusted (trusted: {}); install \
         its public key in /etc/kindling/trusted-keys/ if it is a new release key",
        trusted.join(", ")
    )]
    UntrustedKey {
        /// The signing key's id.
        key_id: String,
        /// The trusted keys' ids.
        trusted: Vec<String>,
    },
    /// The signature does not match the bytes in the slot.
    #[error(
        "the signature by trusted key {key_id} does not match the payload in the slot: the \
         payload was altered or the signature belongs to another file"
    )]
    BadSignature {
        /// The signing key's id.
        key_id: String,
    },

    /// The payload does not start with update_engine's `CrAU` magic.
    #[error("not an update_engine payload: it starts with {found:?}, not \"CrAU\"")]
    CrauMagic {
        /// The first bytes, lossily as text.
        found: String,
    },
    /// The header says the manifest is larger than kindling accepts.
    #[error("the payload's manifest is {size} bytes, more than the {max} kindling accepts")]
    CrauManifestSize {
        /// The size in the header.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The header or manifest cannot be decoded or is inconsistent; nothing was written.
    #[error("the payload's manifest is invalid: {reason}; nothing was written")]
    CrauManifest {
        /// What is wrong.
        reason: String,
    },
    /// The manifest lacks the size and hash a file must have afterwards.
    #[error(
        "the payload's manifest has no {what} (size and SHA-256 of the result); nothing was written"
    )]
    CrauNoNewInfo {
        /// Which info is missing.
        what: String,
    },
    /// An operation kindling does not apply (`MOVE`, `BSDIFF`, an unknown type).
    #[error(
        "operation {index} is {op_type}: kindling applies full payloads (REPLACE and REPLACE_BZ) \
         only; ask the update server for a full payload; nothing was written"
    )]
    CrauUnsupported {
        /// The operation's index.
        index: usize,
        /// Its type's name.
        op_type: String,
    },
    /// A delta payload (it names a source partition, kernel or extents).
    #[error(
        "this is a delta payload ({what}); kindling applies full payloads only; nothing was written"
    )]
    CrauDelta {
        /// What makes it a delta.
        what: String,
    },
    /// An operation is malformed (extents outside the slot, data out of order, ...), found
    /// while checking the manifest or while applying it.
    #[error("operation {index} is invalid: {reason}")]
    CrauOperation {
        /// The operation's index.
        index: usize,
        /// What is wrong.
        reason: String,
    },
    /// An operation with data has no `data_sha256_hash`.
    #[error("operation {index} has data but no data_sha256_hash; nothing was written")]
    CrauOperationHashMissing {
        /// The operation's index.
        index: usize,
    },
    /// An operation's data is not what its hash says; its bytes were not written.
    #[error(
        "operation {index}: its data's SHA-256 is {actual} but the manifest says {expected}; \
         the payload is corrupt (its bytes were not written)"
    )]
    CrauOperationHash {
        /// The operation's index.
        index: usize,
        /// The manifest's hash, hex.
        expected: String,
        /// The data's hash, hex.
        actual: String,
    },
    /// The manifest's sizes do not add up to the size the update check announced.
    #[error(
        "the payload's manifest describes {manifest} bytes (header, manifest, data and \
         signatures) but the update offer says {offer}; nothing was written"
    )]
    CrauSize {
        /// Header + manifest + data + signatures.
        manifest: u64,
        /// The offer's size.
        offer: u64,
    },
    /// No usable signature: none in the manifest, a malformed `Signatures` message, or no
    /// version-2 entry.
    #[error("the payload is not signed as update_engine requires: {reason}")]
    CrauUnsigned {
        /// What is missing.
        reason: String,
    },
    /// No trusted RSA key verifies the payload's signature.
    #[error(
        "no trusted key verifies the payload's signature (tried: {}); the payload was altered \
         or is signed by a key this node does not trust; add its public key as a *.pem file in \
         /etc/kindling/trusted-keys/ if it is a release key",
        tried.join(", ")
    )]
    CrauBadSignature {
        /// The keys tried.
        tried: Vec<String>,
    },
    /// The slot or the kernel file, read back, is not what the manifest says it must be.
    #[error(
        "{what} read back is {actual_size} bytes with SHA-256 {actual} but the payload says \
         {expected_size} bytes with {expected}; the slot or file does not hold what was written"
    )]
    CrauResultMismatch {
        /// `the slot` or `the kernel file PATH`.
        what: String,
        /// Expected size.
        expected_size: u64,
        /// Expected SHA-256, hex.
        expected: String,
        /// Size found.
        actual_size: u64,
        /// SHA-256 found, hex.
        actual: String,
    },
}

impl PayloadError {
    /// What the agent should do next (see [`Retry`]).
    #[must_use]
    pub fn retry(&self) -> Retry {
        match self {
            Self::Connect { .. }
            | Self::Stalled { .. }
            | Self::TooSlow { .. }
            | Self::ConnectionReset { .. }
            | Self::Truncated { .. }
            | Self::Transfer { .. }
            | Self::ServerError { .. } => Retry::Resume,
            Self::HashMismatch {
                phase: HashPhase::Resumed | HashPhase::ReadBack,
                ..
            } => Retry::Restart,
            // The slot or kernel file no longer holds what was written (or a resume point
            // did not match it): start over.
            Self::CrauResultMismatch { .. } => Retry::Restart,
            // Every other fault is of the offer, the payload, its signature, the keys or
            // the local disk: trying again cannot fix it.
            _ => Retry::Never,
        }
    }

    /// Whether trying again (after a backoff) can succeed.
    #[must_use]
    pub fn is_retryable(&self) -> bool {
        self.retry() != Retry::Never
    }

    /// A short stable name of the variant, for logs, state files and tests.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::BadOffer { .. } => "bad-offer",
            Self::Proxy { .. } => "proxy",
            Self::Client { .. } => "client",
            Self::NoTrustedKeys { .. } => "no-trusted-keys",
            Self::RegionUnusable { .. } => "region-unusable",
            Self::RegionTooSmall { .. } => "region-too-small",
            Self::RegionOutsideDevice { .. } => "region-outside-device",
            Self::RegionFull { .. } => "region-full",
            Self::RegionIo { .. } => "region-io",
            Self::Connect { .. } => "connect",
            Self::Stalled { .. } => "stalled",
            Self::TooSlow { .. } => "too-slow",
            Self::ConnectionReset { .. } => "connection-reset",
            Self::Truncated { .. } => "truncated",
            Self::Transfer { .. } => "transfer",
            Self::ClientError { .. } => "http-4xx",
            Self::ServerError { .. } => "http-5xx",
            Self::SizeMismatch { .. } => "size-mismatch",
            Self::HashMismatch { .. } => "hash-mismatch",
            Self::SignatureMissing { .. } => "signature-missing",
            Self::MalformedSignature { .. } => "malformed-signature",
            Self::LegacySignature { .. } => "legacy-signature",
            Self::UntrustedKey { .. } => "untrusted-key",
            Self::BadSignature { .. } => "bad-signature",
            Self::CrauMagic { .. } => "crau-magic",
            Self::CrauManifestSize { .. } => "crau-manifest-size",
            Self::CrauManifest { .. } => "crau-manifest",
            Self::CrauNoNewInfo { .. } => "crau-no-new-info",
            Self::CrauUnsupported { .. } => "crau-unsupported-operation",
            Self::CrauDelta { .. } => "crau-delta",
            Self::CrauOperation { .. } => "crau-operation",
            Self::CrauOperationHashMissing { .. } => "crau-operation-hash-missing",
            Self::CrauOperationHash { .. } => "crau-operation-hash",
            Self::CrauSize { .. } => "crau-size",
            Self::CrauUnsigned { .. } => "crau-unsigned",
            Self::CrauBadSignature { .. } => "crau-bad-signature",
            Self::CrauResultMismatch { .. } => "crau-result-mismatch",
        }
    }

    /// update_engine's error code (`ActionExitCode` in Flatcar's `action_processor.h`) for
    /// the failures only an update_engine payload can have; `None` for the others (the
    /// agent's own mapping covers them).
    #[must_use]
    pub fn crau_code(&self) -> Option<i32> {
        Some(match self {
            Self::CrauSize { .. } => 11,
            Self::CrauNoNewInfo { .. } => 13,
            Self::CrauResultMismatch { what, .. } if what.starts_with("the kernel") => 16,
            Self::CrauResultMismatch { .. } => 15,
            Self::CrauBadSignature { .. } => 18,
            Self::CrauMagic { .. } => 21,
            Self::CrauUnsigned { .. } => 22,
            Self::CrauManifest { .. } => 23,
            Self::CrauUnsupported { .. } | Self::CrauDelta { .. } | Self::CrauOperation { .. } => {
                28
            }
            Self::CrauOperationHash { .. } => 29,
            Self::CrauManifestSize { .. } => 32,
            Self::CrauOperationHashMissing { .. } => 38,
            _ => return None,
        })
    }

    /// The error from an HTTP status that is not a success.
    pub(crate) fn from_status(url: &str, status: u16) -> Self {
        if status >= 500 || status == 408 || status == 429 {
            Self::ServerError {
                url: url.to_string(),
                status,
            }
        } else {
            Self::ClientError {
                url: url.to_string(),
                status,
            }
        }
    }

    /// The error from a failed write, telling a full disk from other I/O errors.
    pub(crate) fn write(path: &std::path::Path, at: u64, source: std::io::Error) -> Self {
        // ENOSPC (28), EFBIG (27) and EDQUOT (122) all mean "no room", and write_all_at
        // reports a write that wrote nothing as WriteZero.
        let full = matches!(source.raw_os_error(), Some(27 | 28 | 122))
            || source.kind() == std::io::ErrorKind::WriteZero
            || source.kind() == std::io::ErrorKind::StorageFull;
        if full {
            Self::RegionFull {
                path: path.to_path_buf(),
                at,
                source,
            }
        } else {
            Self::RegionIo {
                op: "write",
                path: path.to_path_buf(),
                at,
                source,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_disk_errors_are_region_full() {
        let p = std::path::Path::new("/img");
        for code in [27, 28, 122] {
            let e = PayloadError::write(p, 5, std::io::Error::from_raw_os_error(code));
            assert_eq!(e.kind(), "region-full", "errno {code}");
            assert!(!e.is_retryable());
        }
        let e = PayloadError::write(p, 5, std::io::Error::from_raw_os_error(5));
        assert_eq!(e.kind(), "region-io");
    }

    #[test]
    fn statuses_are_classified() {
        assert!(PayloadError::from_status("u", 503).is_retryable());
        assert!(PayloadError::from_status("u", 429).is_retryable());
        assert!(!PayloadError::from_status("u", 404).is_retryable());
        assert!(!PayloadError::from_status("u", 403).is_retryable());
    }
}
