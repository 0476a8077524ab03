//! Verification of what is in the slot: the minisign signature (prehashed, `ED`: Ed25519
//! over BLAKE2b-512) by a trusted key, checked over the payload as read back from the
//! region, so what is verified is what will boot. The SHA-256 the update check announced was
//! already checked by `fetch` over the bytes it read back (and the re-read prefix); `verify`
//! takes its [`Fetched`] as proof and re-checks it against the offer.
//!
//! When the download was [`fetch_signed`](super::fetch_signed()) with this same signature,
//! the BLAKE2b prehash already ran over those same read-back bytes on a second core (see
//! `readback` for why that read is as good as one after the sync), and `verify` uses its
//! result: no second pass. Otherwise it reads the region back now: a reader thread fills
//! 1 MiB buffers while this thread hashes, and only a few buffers exist at once. Only when
//! that signature check fails is the region hashed again with SHA-256, to tell "the slot
//! changed after the download" (download again) from "the payload is not the signed one"
//! (never retry). A signature that failed over the read-back during the download is the
//! latter: the same bytes had the offer's SHA-256.

use std::sync::mpsc::sync_channel;

use sha2::{Digest, Sha256};

use super::error::{HashPhase, PayloadError};
use super::keys::TrustedKeys;
use super::offer::Expected;
use super::proof::{Fetched, Verified, b64};
use super::region::{Region, Target};
use super::signature::{parse, untrusted};

/// The read-back block size.
const BLOCK: usize = 1 << 20;

/// Blocks in flight between the reader and the SHA-256 thread.
const BUFFERS: usize = 4;

/// Verify the payload in `target`: `fetched` (what [`fetch`](super::fetch) returned for
/// `expected`) must match the offer's size and SHA-256, and `signature` (the `.minisig`
/// file's bytes) must be a prehashed minisign signature by one of `keys` over exactly the
/// `expected.size` bytes at the start of the region, as read back now. Returns [`Verified`]
/// only when every check passed. Reads only; never makes anything bootable.
pub fn verify(
    target: &Target,
    expected: &Expected,
    fetched: &Fetched,
    keys: &TrustedKeys,
    signature: &[u8],
) -> Result<Verified, PayloadError> {
    let want = expected.sha256()?;
    let size = expected.size;
    if fetched.size() != size {
        return Err(PayloadError::SizeMismatch {
            url: expected.url.clone(),
            what: "the download",
            got: fetched.size(),
            expected: size,
        });
    }
    if fetched.sha256() != want {
        return Err(PayloadError::HashMismatch {
            expected: expected.sha256_b64.clone(),
            actual: b64(&fetched.sha256()),
            phase: HashPhase::Download,
        });
    }
    let (sig, key_id) = parse(signature)?;
    let Some(key) = keys.find(&key_id) else {
        return Err(untrusted(keys, key_id));
    };
    // Checked while downloading, over the same read-back bytes whose SHA-256 matched.
    if let Some(signed) = &fetched.signed
        && signed.signature == signature
    {
        if !signed.valid {
            return Err(PayloadError::BadSignature { key_id });
        }
        return Ok(Verified {
            sha256: want,
            size,
            key_id,
            trusted_comment: sig.trusted_comment().to_string(),
        });
    }
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
    read_back(&region, size, &mut |block| verifier.update(block))?;
    if verifier.finalize().is_ok() {
        return Ok(Verified {
            sha256: want,
            size,
            key_id,
            trusted_comment: sig.trusted_comment().to_string(),
        });
    }
    // Why did it fail? If the slot no longer holds what was downloaded, downloading again
    // helps; if it does, the downloaded payload is not the signed one.
    let mut sha = Sha256::new();
    read_back(&region, size, &mut |block| sha.update(block))?;
    let actual: [u8; 32] = sha.finalize().into();
    if actual != want {
        return Err(PayloadError::HashMismatch {
            expected: expected.sha256_b64.clone(),
            actual: b64(&actual),
            phase: HashPhase::ReadBack,
        });
    }
    Err(PayloadError::BadSignature { key_id })
}

/// Feed the region's first `size` bytes to `consume`, block by block, in order; a scoped
/// reader thread reads ahead so reading and hashing overlap.
fn read_back(
    region: &Region,
    size: u64,
    consume: &mut dyn FnMut(&[u8]),
) -> Result<(), PayloadError> {
    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; BLOCK]);
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut pos = 0u64;
            while pos < size {
                // The consumer stopped (it cannot, short of a panic): stop too.
                let Ok(mut buf) = empty_rx.recv() else {
                    break;
                };
                let n = usize::try_from(size - pos).map_or(BLOCK, |r| r.min(BLOCK));
                region.read_at(&mut buf[..n], pos)?;
                pos += n as u64;
                if full_tx.send((buf, n)).is_err() {
                    break;
                }
            }
            Ok::<u64, PayloadError>(pos)
        });
        let mut consumed = 0u64;
        for (buf, n) in full_rx {
            consume(&buf[..n]);
            consumed += n as u64;
            // The reader may have finished; then the buffer is simply dropped.
            let _ = empty_tx.send(buf);
        }
        let read = reader.join().unwrap_or_else(|_| {
            Err(PayloadError::RegionIo {
                op: "read",
                path: region.path().to_path_buf(),
                at: consumed,
                source: std::io::Error::other("bug: the read-back thread panicked"),
            })
        })?;
        if read != size || consumed != size {
            return Err(PayloadError::RegionIo {
                op: "read",
                path: region.path().to_path_buf(),
                at: consumed,
                source: std::io::Error::other("the read-back stopped early"),
            });
        }
        Ok(())
    })
}
