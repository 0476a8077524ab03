//! [`inspect_crau_file`]: check an update_engine payload on disk as the node will, without
//! applying it: the manifest ([`plan`]), every operation's hash, and the signature by one of
//! the [`RsaKeys`] (what `kindling update-server publish` needs before it serves a payload
//! as it is). Reads the file once, one operation's data at a time.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::finish::check_signature;
use super::keys::RsaKeys;
use super::manifest::{HEADER_LEN, Limits, parse_header, plan};
use super::resume::hex;
use crate::payload::error::PayloadError;

/// What a checked payload file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrauFile {
    /// The file's size.
    pub size: u64,
    /// Its SHA-256 (what the Omaha response announces, base64).
    pub sha256: [u8; 32],
    /// The key that verified it (where it came from and its fingerprint).
    pub key: String,
    /// `new_partition_info.size`.
    pub partition_size: u64,
    /// `new_partition_info.hash`.
    pub partition_sha256: [u8; 32],
    /// The `KERNEL` procedure's `new_info` (size, SHA-256), if any.
    pub kernel: Option<(u64, [u8; 32])>,
    /// How many operations.
    pub operations: usize,
}

/// Check the payload at `path` (see the module documentation).
pub fn inspect_crau_file(path: &Path, keys: &RsaKeys) -> Result<CrauFile, PayloadError> {
    let io = |at: u64, source: std::io::Error| PayloadError::RegionIo {
        op: "read",
        path: path.to_path_buf(),
        at,
        source,
    };
    let file = File::open(path).map_err(|e| io(0, e))?;
    let size = file.metadata().map_err(|e| io(0, e))?.len();
    let mut r = BufReader::with_capacity(1 << 20, file);
    let mut hasher = Sha256::new();
    let mut read = |h: &mut Sha256, len: u64, at: u64| -> Result<Vec<u8>, PayloadError> {
        let mut buf = vec![0u8; usize::try_from(len).unwrap_or(0)];
        r.read_exact(&mut buf).map_err(|e| io(at, e))?;
        h.update(&buf);
        Ok(buf)
    };
    let mut metadata = read(&mut hasher, HEADER_LEN.min(size), 0)?;
    let manifest = parse_header(&metadata)?;
    if HEADER_LEN + manifest > size {
        return Err(PayloadError::CrauManifest {
            reason: "the file ends inside the manifest".into(),
        });
    }
    metadata.extend(read(&mut hasher, manifest, HEADER_LEN)?);
    let limits = Limits {
        region_len: u64::MAX,
        kernel: false,
        payload_size: size,
    };
    let plan = plan(&metadata, limits)?;
    for op in &plan.ops {
        let data = read(
            &mut hasher,
            op.data_length,
            plan.metadata_size + op.data_offset,
        )?;
        if let Some(want) = op.sha256 {
            let got: [u8; 32] = Sha256::digest(&data).into();
            if got != want {
                return Err(PayloadError::CrauOperationHash {
                    index: op.index,
                    expected: hex(&want),
                    actual: hex(&got),
                });
            }
        }
    }
    let signed: [u8; 32] = hasher.clone().finalize().into();
    let signatures = read(
        &mut hasher,
        plan.signatures_size,
        plan.metadata_size + plan.signatures_offset,
    )?;
    let key = check_signature(&signatures, &signed, keys)?;
    Ok(CrauFile {
        size,
        sha256: hasher.finalize().into(),
        key,
        partition_size: plan.partition.size,
        partition_sha256: plan.partition.sha256,
        kernel: plan.kernel_info.map(|k| (k.size, k.sha256)),
        operations: plan.ops.len(),
    })
}
