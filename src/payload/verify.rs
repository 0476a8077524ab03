//! Verification of what is in the slot, read back from the region after the download was
//! synced: the size, the SHA-256 the update check announced, and a minisign signature by a
//! trusted key. One read pass feeds both hashes: this thread reads a block and feeds
//! minisign's BLAKE2b-512 (prehashed signatures, `ED`), a second thread hashes the same
//! block with SHA-256, so the two hashes run on both cores and only a few 1 MiB buffers
//! exist at once.

use std::sync::mpsc::sync_channel;

use sha2::{Digest, Sha256};

use super::fetch::b64;
use super::keys::key_id_of;
use super::region::Region;
use super::{Expected, PayloadError, Target, TrustedKeys, Verified};
use crate::payload::error::HashPhase;

/// Check, before downloading anything, that `signature` could verify at all: it is a
/// prehashed minisign signature by one of `keys`. Returns the key's id. [`verify`] repeats
/// this; calling it first only saves a useless download.
pub fn precheck(keys: &TrustedKeys, signature: &[u8]) -> Result<String, PayloadError> {
    let (sig, key_id) = parse(signature)?;
    let Some(key) = keys.find(&key_id) else {
        return Err(untrusted(keys, key_id));
    };
    match key.key.verify_stream(&sig) {
        Ok(_) => Ok(key_id),
        Err(minisign_verify::Error::UnsupportedLegacyMode) => {
            Err(PayloadError::LegacySignature { key_id })
        }
        Err(e) => Err(PayloadError::MalformedSignature {
            reason: e.to_string(),
        }),
    }
}

/// Decode a `.minisig` file and read the id of the key that made it.
fn parse(signature: &[u8]) -> Result<(minisign_verify::Signature, String), PayloadError> {
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

fn untrusted(keys: &TrustedKeys, key_id: String) -> PayloadError {
    PayloadError::UntrustedKey {
        key_id,
        trusted: keys.ids(),
    }
}

/// The read-back block size.
const BLOCK: usize = 1 << 20;

/// Blocks in flight between the reader and the SHA-256 thread.
const BUFFERS: usize = 4;

/// Verify the payload in `target` against `expected` and `signature` (the `.minisig` file's
/// bytes): the signature must be a prehashed minisign signature by one of `keys`, over
/// exactly the `expected.size` bytes at the start of the region, as read back now; their
/// SHA-256 must be `expected.sha256_b64`. Returns [`Verified`] only when every check passed.
/// Reads only; never makes anything bootable.
pub fn verify(
    target: &Target,
    expected: &Expected,
    keys: &TrustedKeys,
    signature: &[u8],
) -> Result<Verified, PayloadError> {
    let want = expected.sha256()?;
    let size = expected.size;
    let (sig, key_id) = parse(signature)?;
    let Some(key) = keys.find(&key_id) else {
        return Err(untrusted(keys, key_id));
    };
    let mut verifier = match key.key.verify_stream(&sig) {
        Ok(v) => v,
        Err(minisign_verify::Error::UnsupportedLegacyMode) => {
            return Err(PayloadError::LegacySignature { key_id });
        }
        Err(e) => {
            return Err(PayloadError::MalformedSignature {
                reason: e.to_string(),
            });
        }
    };
    let region = Region::open(target, size, false)?;

    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; BLOCK]);
    }
    let (read, sha256) = std::thread::scope(|s| {
        let hasher = s.spawn(move || {
            let mut h = Sha256::new();
            for (buf, n) in full_rx {
                h.update(&buf[..n]);
                // The reader may have stopped; then the buffer is simply dropped.
                let _ = empty_tx.send(buf);
            }
            <[u8; 32]>::from(h.finalize())
        });
        let mut pos = 0u64;
        let read = (|| {
            while pos < size {
                let Ok(mut buf) = empty_rx.recv() else { break };
                let n = usize::try_from(size - pos).map_or(BLOCK, |r| r.min(BLOCK));
                region.read_at(&mut buf[..n], pos)?;
                verifier.update(&buf[..n]);
                pos += n as u64;
                if full_tx.send((buf, n)).is_err() {
                    break;
                }
            }
            drop(full_tx);
            Ok::<u64, PayloadError>(pos)
        })();
        // The hasher ends when the queue closes (always, as `full_tx` was moved above or
        // dropped with the closure); a panic there is a bug, reported as such.
        let sha = hasher.join().map_err(|_| PayloadError::RegionIo {
            op: "read",
            path: target.path.clone(),
            at: target.offset,
            source: std::io::Error::other("bug: the SHA-256 thread panicked"),
        });
        (read, sha)
    });
    let read = read?;
    let sha256 = sha256?;
    if read != size {
        return Err(PayloadError::RegionIo {
            op: "read",
            path: target.path.clone(),
            at: target.offset + read,
            source: std::io::Error::other("the read-back stopped early"),
        });
    }
    if sha256 != want {
        return Err(PayloadError::HashMismatch {
            expected: expected.sha256_b64.clone(),
            actual: b64(&sha256),
            phase: HashPhase::ReadBack,
        });
    }
    verifier
        .finalize()
        .map_err(|_| PayloadError::BadSignature {
            key_id: key_id.clone(),
        })?;
    Ok(Verified {
        sha256,
        size,
        key_id,
        trusted_comment: sig.trusted_comment().to_string(),
    })
}
