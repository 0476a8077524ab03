//! The checks after the last byte: the offer's SHA-256 over the whole payload, the
//! signature (a version-2 entry of the `Signatures` message: RSA PKCS#1 v1.5 over the
//! SHA-256 of every byte before the signatures, by one of the [`RsaKeys`]), then the slot
//! and the kernel file read back against `new_partition_info` and the kernel's `new_info`
//! (the kernel file first cut to its size, as update_engine's performer does). Only when
//! all pass is a [`CrauVerified`] made.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc::sync_channel;

use prost::Message as _;
use sha2::{Digest, Sha256};

use super::apply::Applied;
use super::keys::RsaKeys;
use super::manifest::{Info, Signatures};
use super::proof::{CrauVerified, KernelFile};
use super::resume::hex;
use crate::payload::error::{HashPhase, PayloadError};
use crate::payload::proof::b64;
use crate::payload::region::Region;

/// The signature version update_engine checks.
const SIGNATURE_VERSION: u32 = 2;

/// Read-back block size.
const BLOCK: usize = 1 << 20;

/// Verify what [`run`](super::apply::run) applied (see the module documentation).
pub fn finish(
    applied: Applied,
    want: [u8; 32],
    keys: &RsaKeys,
    resumed: bool,
) -> Result<CrauVerified, PayloadError> {
    if applied.whole != want {
        return Err(PayloadError::HashMismatch {
            expected: b64(&want),
            actual: b64(&applied.whole),
            phase: if resumed {
                HashPhase::Resumed
            } else {
                HashPhase::Download
            },
        });
    }
    let key = check_signature(&applied.signatures, &applied.signed, keys)?;
    let plan = &applied.plan;
    let region = &applied.sinks.region;
    let got = hash_region(region, plan.partition.size)?;
    check_info("the slot", plan.partition, plan.partition.size, got)?;
    let kernel = match (&applied.sinks.kernel, plan.kernel) {
        (Some((file, path)), Some(info)) => Some(check_kernel(file, path, info)?),
        _ => None,
    };
    Ok(CrauVerified {
        size: plan.payload_size,
        sha256: want,
        key,
        partition_size: plan.partition.size,
        partition_sha256: plan.partition.sha256,
        kernel,
        operations: plan.ops.len(),
        resumed,
    })
}

/// The name of the first trusted key that verifies a version-2 signature over `signed`.
pub fn check_signature(
    message: &[u8],
    signed: &[u8; 32],
    keys: &RsaKeys,
) -> Result<String, PayloadError> {
    let sigs = Signatures::decode(message).map_err(|e| PayloadError::CrauUnsigned {
        reason: format!("the signatures message does not decode: {e}"),
    })?;
    let v2: Vec<&[u8]> = sigs
        .signatures
        .iter()
        .filter(|s| s.version == Some(SIGNATURE_VERSION))
        .filter_map(|s| s.data.as_deref())
        .collect();
    if v2.is_empty() {
        return Err(PayloadError::CrauUnsigned {
            reason: format!(
                "no version {SIGNATURE_VERSION} signature among its {}",
                sigs.signatures.len()
            ),
        });
    }
    for key in keys.keys() {
        for sig in &v2 {
            let scheme = rsa::Pkcs1v15Sign::new::<Sha256>();
            if key.key.verify(scheme, signed, sig).is_ok() {
                return Ok(key.name());
            }
        }
    }
    Err(PayloadError::CrauBadSignature {
        tried: keys.names(),
    })
}

fn check_info(what: &str, want: Info, size: u64, got: [u8; 32]) -> Result<(), PayloadError> {
    if size == want.size && got == want.sha256 {
        return Ok(());
    }
    Err(PayloadError::CrauResultMismatch {
        what: what.into(),
        expected_size: want.size,
        expected: hex(&want.sha256),
        actual_size: size,
        actual: hex(&got),
    })
}

/// SHA-256 of the region's first `size` bytes; a scoped reader thread reads ahead (a few
/// 1 MiB buffers) while this thread hashes, so reading and hashing overlap.
fn hash_region(region: &Region, size: u64) -> Result<[u8; 32], PayloadError> {
    const BUFFERS: usize = 4;
    let (full_tx, full_rx) = sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        let _ = empty_tx.send(vec![0u8; BLOCK]);
    }
    std::thread::scope(|s| {
        let reader = s.spawn(move || {
            let mut pos = 0u64;
            while pos < size {
                let Ok(mut buf) = empty_rx.recv() else { break };
                let n = usize::try_from(size - pos).map_or(BLOCK, |r| r.min(BLOCK));
                region.read_at(&mut buf[..n], pos)?;
                pos += n as u64;
                if full_tx.send((buf, n)).is_err() {
                    break;
                }
            }
            Ok::<(), PayloadError>(())
        });
        let mut sha = Sha256::new();
        for (buf, n) in full_rx {
            sha.update(&buf[..n]);
            let _ = empty_tx.send(buf);
        }
        reader.join().unwrap_or_else(|_| {
            Err(PayloadError::CrauManifest {
                reason: "bug: the read-back thread panicked".into(),
            })
        })?;
        Ok(sha.finalize().into())
    })
}

fn check_kernel(file: &File, path: &Path, want: Info) -> Result<KernelFile, PayloadError> {
    let io = |op: &'static str, source: std::io::Error| PayloadError::RegionIo {
        op,
        path: path.to_path_buf(),
        at: 0,
        source,
    };
    file.set_len(want.size).map_err(|e| io("truncate", e))?;
    file.sync_all().map_err(|e| io("sync", e))?;
    let size = file.metadata().map_err(|e| io("stat", e))?.len();
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; BLOCK];
    let mut pos = 0u64;
    while pos < size {
        let n = usize::try_from(size - pos).map_or(BLOCK, |r| r.min(BLOCK));
        file.read_exact_at(&mut buf[..n], pos)
            .map_err(|e| io("read", e))?;
        sha.update(&buf[..n]);
        pos += n as u64;
    }
    let got: [u8; 32] = sha.finalize().into();
    check_info(
        &format!("the kernel file {}", path.display()),
        want,
        size,
        got,
    )?;
    Ok(KernelFile {
        path: path.to_path_buf(),
        size,
        sha256: got,
    })
}
