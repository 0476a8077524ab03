//! The minisign signature as a check that can run beside the download: [`SignatureCheck`]
//! is a `.minisig` file decoded and matched to one of the trusted keys (prehashed `ED`
//! signatures only), and [`prehash`] is the thread that feeds BLAKE2b-512 (minisign's
//! prehash, through minisign-verify) with the blocks the writer reads back from the slot,
//! on the second core, and says at the end whether the signature holds over them.
//! [`precheck`] is the same decoding, done before a byte is downloaded.

use std::sync::mpsc::{Receiver, SyncSender};

use super::error::PayloadError;
use super::keys::{TrustedKeys, key_id_of};

/// A decoded signature and the trusted key that made it.
#[derive(Clone)]
pub struct SignatureCheck {
    /// The `.minisig` file's bytes, as fetched.
    pub(super) bytes: Vec<u8>,
    pub(super) sig: minisign_verify::Signature,
    pub(super) key: minisign_verify::PublicKey,
    pub(super) key_id: String,
}

impl std::fmt::Debug for SignatureCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureCheck")
            .field("key_id", &self.key_id)
            .finish_non_exhaustive()
    }
}

impl SignatureCheck {
    /// Decode `signature` (a `.minisig` file) and find the trusted key that made it: an
    /// untrusted key, a legacy (not prehashed) or malformed signature is an error here, before
    /// anything is downloaded.
    pub fn new(keys: &TrustedKeys, signature: &[u8]) -> Result<Self, PayloadError> {
        let (sig, key_id) = parse(signature)?;
        let Some(key) = keys.find(&key_id) else {
            return Err(untrusted(keys, key_id));
        };
        match key.key.verify_stream(&sig) {
            Ok(_) => Ok(Self {
                bytes: signature.to_vec(),
                key: key.key.clone(),
                sig,
                key_id,
            }),
            Err(minisign_verify::Error::UnsupportedLegacyMode) => {
                Err(PayloadError::LegacySignature { key_id })
            }
            Err(e) => Err(PayloadError::MalformedSignature {
                reason: e.to_string(),
            }),
        }
    }

    /// The id of the key that made it (upper-case hex).
    #[must_use]
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// A fresh BLAKE2b-512 stream over the signed bytes.
    pub(super) fn stream(&self) -> Option<minisign_verify::StreamVerifier<'_>> {
        self.key.verify_stream(&self.sig).ok()
    }
}

/// Check, before downloading anything, that `signature` could verify at all: it is a
/// prehashed minisign signature by one of `keys`. Returns the key's id. `verify` repeats
/// this; calling it first only saves a useless download.
pub fn precheck(keys: &TrustedKeys, signature: &[u8]) -> Result<String, PayloadError> {
    SignatureCheck::new(keys, signature).map(|c| c.key_id)
}

/// Decode a `.minisig` file alone (no key needed) and return the id of the key that made
/// it: the reading [`precheck`] starts with, for the fuzz targets.
///
/// # Errors
/// [`PayloadError::MalformedSignature`] when it is not a minisign signature.
pub fn decode_signature(signature: &[u8]) -> Result<String, PayloadError> {
    parse(signature).map(|(_, key_id)| key_id)
}

/// What the writer sends the [`prehash`] thread.
pub(super) enum Block {
    /// The next `.1` bytes of the payload, as read back from the slot, in `.0`.
    Bytes(Vec<u8>, usize),
    /// The payload starts again at byte 0.
    Restart,
}

/// The prehash thread: BLAKE2b-512 over every block, in order; each buffer goes back on
/// `empty` for the writer to reuse. Returns whether the signature holds over all of them.
pub(super) fn prehash(
    check: &SignatureCheck,
    blocks: Receiver<Block>,
    empty: SyncSender<Vec<u8>>,
) -> bool {
    let mut stream = check.stream();
    for block in blocks {
        match block {
            Block::Bytes(buf, n) => {
                if let Some(s) = stream.as_mut() {
                    s.update(&buf[..n]);
                }
                // The writer may have finished: then the buffer is simply dropped.
                let _ = empty.send(buf);
            }
            Block::Restart => stream = check.stream(),
        }
    }
    stream.is_some_and(|mut s| s.finalize().is_ok())
}

/// Decode a `.minisig` file and read the id of the key that made it.
pub(super) fn parse(
    signature: &[u8],
) -> Result<(minisign_verify::Signature, String), PayloadError> {
    let text = std::str::from_utf8(signature).map_err(|_| PayloadError::MalformedSignature {
        reason: "not UTF-8 text".into(),
    })?;
    let sig =
        minisign_verify::Signature::decode(text).map_err(|e| PayloadError::MalformedSignature {
            reason: e.to_string(),
        })?;
    // The decoder accepted the lines, so the second one is the signature with its key id
    // and algorithm (`ED` prehashed, `Ed` legacy).
    let line = text.lines().nth(1).unwrap_or_default();
    let key_id = key_id_of(line).ok_or_else(|| PayloadError::MalformedSignature {
        reason: "the signature line has no key id".into(),
    })?;
    Ok((sig, key_id))
}

pub(super) fn untrusted(keys: &TrustedKeys, key_id: String) -> PayloadError {
    PayloadError::UntrustedKey {
        key_id,
        trusted: keys.ids(),
    }
}
