//! update_engine's payload metadata: the `CrAU` header (magic, format version 1 as a
//! big-endian u64, manifest size as a big-endian u64), the `DeltaArchiveManifest` and
//! `Signatures` protobuf messages (field numbers exactly as in Flatcar's
//! `update_metadata.proto`, decoded by `prost`), and [`Plan`]: a manifest checked in full
//! before a single byte is written. A plan holds only `REPLACE`/`REPLACE_BZ` operations of a
//! full payload, with every extent inside its destination, every data blob at the offset
//! the one before it ended (as a full payload lays them out), an operation hash for every
//! blob, the signatures right after the last blob, and sizes that add up to the size the
//! update check announced; anything else is refused with a [`PayloadError`] naming what.
//! `noop_operations` are ignored as current update_engine ignores them.

use prost::Message as _;

use crate::payload::error::PayloadError;

/// The magic at the start of every update_engine payload.
pub const MAGIC: &[u8; 4] = b"CrAU";

/// Magic, version and manifest size.
pub const HEADER_LEN: u64 = 20;

/// The largest manifest accepted: Flatcar's are about 80 bytes per 1 MiB operation (some
/// 80 KiB for a 1 GiB `/usr`); a bound this low also bounds what decoding a hostile one costs.
pub const MAX_MANIFEST: u64 = 1 << 20;

/// The most operations accepted (32 GiB of `/usr` in Flatcar's 1 MiB operations).
pub const MAX_OPERATIONS: usize = 32 * 1024;

/// The largest data blob of one operation (Flatcar's generators write 1 MiB chunks); all
/// of an operation's data is held in memory until its hash is checked.
pub const MAX_OPERATION_DATA: u64 = 16 << 20;

/// The largest signatures message accepted (one RSA-2048 signature is 264 bytes).
pub const MAX_SIGNATURES: u64 = 64 << 10;

/// The largest kernel accepted.
pub const MAX_KERNEL: u64 = 512 << 20;

/// `Extent.start_block` of a sparse hole: its blocks are skipped, not written.
pub const SPARSE_HOLE: u64 = u64::MAX;

/// `InstallOperation.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum OperationType {
    /// Replace the destination extents with the attached data.
    Replace = 0,
    /// The same with bzip2-compressed data.
    ReplaceBz = 1,
    /// Copy source extents (delta payloads only).
    Move = 2,
    /// A binary diff against the source (delta payloads only).
    Bsdiff = 3,
}

/// `InstallOperation`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallOperation {
    /// The operation's type.
    #[prost(enumeration = "OperationType", required, tag = "1")]
    pub r#type: i32,
    /// Where its data starts, relative to the end of the manifest.
    #[prost(uint32, optional, tag = "2")]
    pub data_offset: Option<u32>,
    /// How long its data is.
    #[prost(uint32, optional, tag = "3")]
    pub data_length: Option<u32>,
    /// Blocks read (delta payloads only).
    #[prost(message, repeated, tag = "4")]
    pub src_extents: Vec<Extent>,
    /// Bytes read (bsdiff only).
    #[prost(uint64, optional, tag = "5")]
    pub src_length: Option<u64>,
    /// Blocks written, in order.
    #[prost(message, repeated, tag = "6")]
    pub dst_extents: Vec<Extent>,
    /// Bytes written (bsdiff only).
    #[prost(uint64, optional, tag = "7")]
    pub dst_length: Option<u64>,
    /// SHA-256 of the data blob.
    #[prost(bytes = "vec", optional, tag = "8")]
    pub data_sha256_hash: Option<Vec<u8>>,
}

/// `Extent`: `num_blocks` blocks from `start_block`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Extent {
    /// The first block (`u64::MAX` for a sparse hole).
    #[prost(uint64, optional, tag = "1")]
    pub start_block: Option<u64>,
    /// How many blocks.
    #[prost(uint64, optional, tag = "2")]
    pub num_blocks: Option<u64>,
}

/// `Signatures`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Signatures {
    /// One entry per signing key.
    #[prost(message, repeated, tag = "1")]
    pub signatures: Vec<Signature>,
}

/// `Signatures.Signature`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Signature {
    /// The signature format's version (update_engine checks version 2).
    #[prost(uint32, optional, tag = "1")]
    pub version: Option<u32>,
    /// The RSA signature.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub data: Option<Vec<u8>>,
}

/// `InstallInfo`: a size and a SHA-256.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallInfo {
    /// Bytes.
    #[prost(uint64, optional, tag = "1")]
    pub size: Option<u64>,
    /// SHA-256 of those bytes.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub hash: Option<Vec<u8>>,
}

/// `InstallProcedure.Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum ProcedureType {
    /// The kernel for the boot partition.
    Kernel = 0,
    /// A zip of TPM PCR data.
    PcrPolicy = 1,
}

/// `InstallProcedure`: a file other than `/usr`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct InstallProcedure {
    /// What the file is.
    #[prost(enumeration = "ProcedureType", optional, tag = "1")]
    pub r#type: Option<i32>,
    /// Its operations (after the partition's in the payload).
    #[prost(message, repeated, tag = "2")]
    pub operations: Vec<InstallOperation>,
    /// The file it applies over (delta payloads only).
    #[prost(message, optional, tag = "3")]
    pub old_info: Option<InstallInfo>,
    /// The file it makes.
    #[prost(message, optional, tag = "4")]
    pub new_info: Option<InstallInfo>,
}

/// `DeltaArchiveManifest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeltaArchiveManifest {
    /// The `/usr` partition's operations.
    #[prost(message, repeated, tag = "1")]
    pub partition_operations: Vec<InstallOperation>,
    /// For old clients only; ignored (as current update_engine ignores it).
    #[prost(message, repeated, tag = "2")]
    pub noop_operations: Vec<InstallOperation>,
    /// The block size of every extent.
    #[prost(uint32, optional, tag = "3", default = "4096")]
    pub block_size: Option<u32>,
    /// Where the signatures message is, relative to the end of the manifest.
    #[prost(uint64, optional, tag = "4")]
    pub signatures_offset: Option<u64>,
    /// Its length.
    #[prost(uint64, optional, tag = "5")]
    pub signatures_size: Option<u64>,
    /// The partition it applies over (delta payloads only).
    #[prost(message, optional, tag = "8")]
    pub old_partition_info: Option<InstallInfo>,
    /// The partition it makes.
    #[prost(message, optional, tag = "9")]
    pub new_partition_info: Option<InstallInfo>,
    /// Files other than `/usr` (the kernel).
    #[prost(message, repeated, tag = "10")]
    pub procedures: Vec<InstallProcedure>,
}

/// Where an operation's bytes go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// The `/usr` slot.
    Partition,
    /// The kernel file.
    Kernel,
    /// Nowhere: a procedure kindling does not install (`PCR_POLICY`, or one without a
    /// type), or the kernel when no kernel path was given. Its data is still covered by
    /// the payload's hashes and signature.
    Skip,
}

/// One checked operation.
#[derive(Debug, Clone)]
pub struct Op {
    /// Its index in update_engine's order (partition operations, then each procedure's).
    pub index: usize,
    /// Where it writes.
    pub dest: Dest,
    /// bzip2-compressed data.
    pub bz: bool,
    /// Its data's offset relative to the end of the manifest.
    pub data_offset: u64,
    /// Its data's length.
    pub data_length: u64,
    /// Its data's SHA-256 (present whenever the length is not 0).
    pub sha256: Option<[u8; 32]>,
    /// `(byte offset or None for a hole, byte length)` in write order.
    pub extents: Vec<(Option<u64>, u64)>,
    /// The sum of the extents' lengths.
    pub capacity: u64,
    /// The block size its output is zero-padded to.
    pub block_size: u64,
}

/// The size and SHA-256 a file must have after the operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Info {
    /// Bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: [u8; 32],
}

/// A manifest checked in full.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Header + manifest.
    pub metadata_size: u64,
    /// Every operation, in order.
    pub ops: Vec<Op>,
    /// Where the signatures message starts, relative to the end of the manifest.
    pub signatures_offset: u64,
    /// Its length.
    pub signatures_size: u64,
    /// The whole payload's size.
    pub payload_size: u64,
    /// What the `/usr` partition must be.
    pub partition: Info,
    /// What the kernel must be (when it is installed).
    pub kernel: Option<Info>,
    /// The `KERNEL` procedure's `new_info`, installed or not.
    pub kernel_info: Option<Info>,
    /// Index of the first kernel operation, if any is written.
    pub first_kernel_op: Option<usize>,
}

/// What the plan must fit.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// The slot region's length.
    pub region_len: u64,
    /// Whether the kernel is installed (a path was given).
    pub kernel: bool,
    /// The size the update check announced.
    pub payload_size: u64,
}

/// The manifest size from a payload's first [`HEADER_LEN`] bytes.
pub fn parse_header(header: &[u8]) -> Result<u64, PayloadError> {
    let magic = header.get(..4).unwrap_or(header);
    if magic != MAGIC {
        return Err(PayloadError::CrauMagic {
            found: String::from_utf8_lossy(magic).into_owned(),
        });
    }
    let word = |at: usize| {
        header
            .get(at..at + 8)
            .and_then(|b| <[u8; 8]>::try_from(b).ok())
            .map(u64::from_be_bytes)
    };
    let (Some(version), Some(size)) = (word(4), word(12)) else {
        return Err(PayloadError::CrauManifest {
            reason: "the header is shorter than 20 bytes".into(),
        });
    };
    if version != 1 {
        return Err(PayloadError::CrauManifest {
            reason: format!("format version {version}; only version 1 exists"),
        });
    }
    if size > MAX_MANIFEST {
        return Err(PayloadError::CrauManifestSize {
            size,
            max: MAX_MANIFEST,
        });
    }
    Ok(size)
}

/// Decode and check the metadata (header + manifest).
pub fn plan(metadata: &[u8], limits: Limits) -> Result<Plan, PayloadError> {
    let manifest_size = parse_header(metadata)?;
    let end = usize::try_from(HEADER_LEN + manifest_size).unwrap_or(usize::MAX);
    let bytes =
        metadata
            .get(HEADER_LEN as usize..end)
            .ok_or_else(|| PayloadError::CrauManifest {
                reason: "the manifest is cut short".into(),
            })?;
    let manifest = DeltaArchiveManifest::decode(bytes).map_err(|e| PayloadError::CrauManifest {
        reason: format!("not a DeltaArchiveManifest: {e}"),
    })?;
    check(&manifest, HEADER_LEN + manifest_size, limits)
}

/// Decode and check a payload's metadata (header + manifest) as the agent does before any
/// data, for a payload of `payload_size` bytes into a region of any size, kernel
/// included: the number of operations. The reading [`plan`] does, for the fuzz targets.
///
/// # Errors
/// As [`plan`].
pub fn check_metadata(metadata: &[u8], payload_size: u64) -> Result<usize, PayloadError> {
    let limits = Limits {
        region_len: u64::MAX,
        kernel: true,
        payload_size,
    };
    plan(metadata, limits).map(|p| p.ops.len())
}

fn invalid(reason: String) -> PayloadError {
    PayloadError::CrauManifest { reason }
}

fn info(what: &str, info: Option<&InstallInfo>) -> Result<Info, PayloadError> {
    let Some(info) = info else {
        return Err(PayloadError::CrauNoNewInfo { what: what.into() });
    };
    let hash = info.hash.as_deref().unwrap_or_default();
    let sha256 = <[u8; 32]>::try_from(hash).map_err(|_| {
        invalid(format!(
            "{what}: the hash is {} bytes, not a SHA-256",
            hash.len()
        ))
    })?;
    Ok(Info {
        size: info.size.unwrap_or(0),
        sha256,
    })
}

/// Check a decoded manifest (see the module documentation).
pub fn check(
    m: &DeltaArchiveManifest,
    metadata_size: u64,
    limits: Limits,
) -> Result<Plan, PayloadError> {
    let block_size = u64::from(m.block_size());
    if !block_size.is_power_of_two() || !(512..=(1 << 20)).contains(&block_size) {
        return Err(invalid(format!(
            "block size {block_size} is not a power of two from 512 to 1 MiB"
        )));
    }
    let count = m.partition_operations.len()
        + m.procedures
            .iter()
            .map(|p| p.operations.len())
            .sum::<usize>();
    if count > MAX_OPERATIONS {
        return Err(invalid(format!(
            "{count} operations, more than the {MAX_OPERATIONS} kindling accepts"
        )));
    }
    if m.old_partition_info.is_some() {
        return Err(PayloadError::CrauDelta {
            what: "it has old_partition_info (the partition it applies over)".into(),
        });
    }
    let partition = info("new_partition_info", m.new_partition_info.as_ref())?;
    if partition.size > limits.region_len {
        return Err(invalid(format!(
            "new_partition_info is {} bytes but the slot holds {}",
            partition.size, limits.region_len
        )));
    }
    let (Some(signatures_offset), Some(signatures_size)) = (m.signatures_offset, m.signatures_size)
    else {
        return Err(PayloadError::CrauUnsigned {
            reason: "the manifest has no signatures_offset/signatures_size".into(),
        });
    };
    if signatures_size == 0 || signatures_size > MAX_SIGNATURES {
        return Err(invalid(format!(
            "signatures_size {signatures_size} is not 1 to {MAX_SIGNATURES} bytes"
        )));
    }
    let mut ops = Vec::new();
    let mut kernel = None;
    let mut next = 0u64;
    let region_blocks_end = limits.region_len;
    for op in &m.partition_operations {
        ops.push(check_op(
            op,
            ops.len(),
            Dest::Partition,
            block_size,
            region_blocks_end,
            &mut next,
        )?);
    }
    for (p, proc) in m.procedures.iter().enumerate() {
        if proc.old_info.is_some() {
            return Err(PayloadError::CrauDelta {
                what: format!("procedure {p} has old_info (the file it applies over)"),
            });
        }
        let typ = proc.r#type.and_then(|t| ProcedureType::try_from(t).ok());
        let dest = match typ {
            Some(ProcedureType::Kernel) => {
                if kernel.is_some() {
                    return Err(invalid(format!(
                        "procedure {p} is a second KERNEL procedure"
                    )));
                }
                let k = info(
                    &format!("the KERNEL procedure ({p})"),
                    proc.new_info.as_ref(),
                )?;
                if k.size > MAX_KERNEL {
                    return Err(invalid(format!(
                        "the kernel is {} bytes, more than {MAX_KERNEL}",
                        k.size
                    )));
                }
                kernel = Some(k);
                if limits.kernel {
                    Dest::Kernel
                } else {
                    Dest::Skip
                }
            }
            Some(ProcedureType::PcrPolicy) => {
                // update_engine requires new_info for every typed procedure.
                info(
                    &format!("the PCR_POLICY procedure ({p})"),
                    proc.new_info.as_ref(),
                )?;
                Dest::Skip
            }
            None => Dest::Skip,
        };
        let end = match (dest, kernel) {
            (Dest::Kernel, Some(k)) => k
                .size
                .div_ceil(block_size)
                .checked_mul(block_size)
                .ok_or_else(|| invalid("the kernel size overflows".into()))?,
            _ => u64::MAX,
        };
        for op in &proc.operations {
            ops.push(check_op(op, ops.len(), dest, block_size, end, &mut next)?);
        }
    }
    if next != signatures_offset {
        return Err(invalid(format!(
            "the signatures are at data offset {signatures_offset}, but the operations' data ends at {next}"
        )));
    }
    let payload_size = metadata_size
        .checked_add(signatures_offset)
        .and_then(|s| s.checked_add(signatures_size))
        .ok_or_else(|| invalid("the payload size overflows".into()))?;
    if payload_size != limits.payload_size {
        return Err(PayloadError::CrauSize {
            manifest: payload_size,
            offer: limits.payload_size,
        });
    }
    check_overlaps(&ops)?;
    let first_kernel_op = ops.iter().find(|o| o.dest == Dest::Kernel).map(|o| o.index);
    Ok(Plan {
        metadata_size,
        ops,
        signatures_offset,
        signatures_size,
        payload_size,
        partition,
        kernel: if limits.kernel { kernel } else { None },
        kernel_info: kernel,
        first_kernel_op,
    })
}

/// Check one operation; `next` is where its data must start and becomes where it ends.
fn check_op(
    op: &InstallOperation,
    index: usize,
    dest: Dest,
    block_size: u64,
    end: u64,
    next: &mut u64,
) -> Result<Op, PayloadError> {
    let bad = |reason: String| PayloadError::CrauOperation { index, reason };
    let bz = match OperationType::try_from(op.r#type) {
        Ok(OperationType::Replace) => false,
        Ok(OperationType::ReplaceBz) => true,
        Ok(t) => {
            return Err(PayloadError::CrauUnsupported {
                index,
                op_type: match t {
                    OperationType::Move => "MOVE",
                    OperationType::Bsdiff => "BSDIFF",
                    OperationType::Replace => "REPLACE",
                    OperationType::ReplaceBz => "REPLACE_BZ",
                }
                .into(),
            });
        }
        Err(_) => {
            return Err(PayloadError::CrauUnsupported {
                index,
                op_type: format!("unknown type {}", op.r#type),
            });
        }
    };
    if !op.src_extents.is_empty() {
        return Err(PayloadError::CrauDelta {
            what: format!("operation {index} reads source extents"),
        });
    }
    let data_length = u64::from(op.data_length.unwrap_or(0));
    let data_offset = u64::from(op.data_offset.unwrap_or(0));
    if data_length > MAX_OPERATION_DATA {
        return Err(bad(format!(
            "its data is {data_length} bytes, more than the {MAX_OPERATION_DATA} kindling accepts"
        )));
    }
    let mut sha256 = None;
    if data_length > 0 {
        if data_offset != *next {
            return Err(bad(format!(
                "its data is at offset {data_offset} but the previous data ends at {next}; a full payload's data is contiguous and in order"
            )));
        }
        let hash = op.data_sha256_hash.as_deref().unwrap_or_default();
        if hash.is_empty() {
            return Err(PayloadError::CrauOperationHashMissing { index });
        }
        sha256 = Some(<[u8; 32]>::try_from(hash).map_err(|_| {
            bad(format!(
                "data_sha256_hash is {} bytes, not a SHA-256",
                hash.len()
            ))
        })?);
        *next += data_length;
    }
    let mut extents = Vec::with_capacity(op.dst_extents.len());
    let mut capacity = 0u64;
    for (e, ext) in op.dst_extents.iter().enumerate() {
        let start = ext.start_block.unwrap_or(0);
        let blocks = ext.num_blocks.unwrap_or(0);
        if blocks == 0 {
            return Err(bad(format!("extent {e} has no blocks")));
        }
        let len = blocks
            .checked_mul(block_size)
            .ok_or_else(|| bad(format!("extent {e} overflows")))?;
        let at = if start == SPARSE_HOLE {
            None
        } else {
            let at = start
                .checked_mul(block_size)
                .ok_or_else(|| bad(format!("extent {e} overflows")))?;
            match at.checked_add(len) {
                Some(stop) if stop <= end => Some(at),
                _ => {
                    return Err(bad(format!(
                        "extent {e} (blocks {start}+{blocks}) lies outside its destination ({end} bytes)"
                    )));
                }
            }
        };
        capacity = capacity
            .checked_add(len)
            .ok_or_else(|| bad("its extents overflow".into()))?;
        extents.push((at, len));
    }
    if !bz && data_length > capacity {
        return Err(bad(format!(
            "its {data_length} bytes of data do not fit its extents ({capacity} bytes)"
        )));
    }
    Ok(Op {
        index,
        dest,
        bz,
        data_offset,
        data_length,
        sha256,
        extents,
        capacity,
        block_size,
    })
}

/// Refuse destination extents that overlap (operations are applied in parallel, so their
/// order must not matter; a full payload writes every block once).
fn check_overlaps(ops: &[Op]) -> Result<(), PayloadError> {
    for dest in [Dest::Partition, Dest::Kernel] {
        let mut spans: Vec<(u64, u64, usize)> = ops
            .iter()
            .filter(|o| o.dest == dest)
            .flat_map(|o| {
                o.extents
                    .iter()
                    .filter_map(move |(at, len)| at.map(|a| (a, a + len, o.index)))
            })
            .collect();
        spans.sort_unstable();
        for pair in spans.windows(2) {
            if let [(_, end, a), (start, _, b)] = pair
                && start < end
            {
                return Err(PayloadError::CrauOperation {
                    index: *b,
                    reason: format!(
                        "its extents overlap operation {a}'s; a full payload writes each block once"
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(offset: u32, len: u32, block: u64, blocks: u64) -> InstallOperation {
        InstallOperation {
            r#type: OperationType::Replace as i32,
            data_offset: Some(offset),
            data_length: Some(len),
            dst_extents: vec![Extent {
                start_block: Some(block),
                num_blocks: Some(blocks),
            }],
            data_sha256_hash: Some(vec![1; 32]),
            ..InstallOperation::default()
        }
    }

    fn metadata(m: &DeltaArchiveManifest) -> Vec<u8> {
        let bytes = m.encode_to_vec();
        let mut p = MAGIC.to_vec();
        p.extend_from_slice(&1u64.to_be_bytes());
        p.extend_from_slice(&(bytes.len() as u64).to_be_bytes());
        p.extend_from_slice(&bytes);
        p
    }

    fn sample() -> DeltaArchiveManifest {
        DeltaArchiveManifest {
            partition_operations: vec![op(0, 4096, 0, 1), op(4096, 100, 1, 2)],
            signatures_offset: Some(4196),
            signatures_size: Some(264),
            new_partition_info: Some(InstallInfo {
                size: Some(12288),
                hash: Some(vec![2; 32]),
            }),
            procedures: vec![InstallProcedure {
                r#type: Some(ProcedureType::Kernel as i32),
                operations: vec![],
                old_info: None,
                new_info: Some(InstallInfo {
                    size: Some(10),
                    hash: Some(vec![3; 32]),
                }),
            }],
            ..DeltaArchiveManifest::default()
        }
    }

    fn limits(meta: &[u8]) -> Limits {
        Limits {
            region_len: 1 << 20,
            kernel: true,
            payload_size: meta.len() as u64 + 4196 + 264,
        }
    }

    #[test]
    fn a_full_manifest_plans() {
        let m = sample();
        let meta = metadata(&m);
        let p = plan(&meta, limits(&meta)).unwrap();
        assert_eq!(p.ops.len(), 2);
        assert_eq!(p.ops[1].extents, vec![(Some(4096), 8192)]);
        assert_eq!(p.metadata_size, meta.len() as u64);
        assert_eq!(p.kernel.unwrap().size, 10);
        // update_engine's default block size when the field is absent.
        assert_eq!(m.block_size(), 4096);
    }

    #[test]
    fn headers() {
        assert_eq!(parse_header(b"CrA").unwrap_err().kind(), "crau-magic");
        assert_eq!(parse_header(b"CrAU").unwrap_err().kind(), "crau-manifest");
        let mut h = MAGIC.to_vec();
        h.extend_from_slice(&2u64.to_be_bytes());
        h.extend_from_slice(&5u64.to_be_bytes());
        assert!(
            parse_header(&h)
                .unwrap_err()
                .to_string()
                .contains("version 2")
        );
    }

    #[test]
    fn hostile_metadata_never_panics() {
        let meta = metadata(&sample());
        let l = limits(&meta);
        for cut in 0..meta.len() {
            let _ = plan(&meta[..cut], l);
        }
        for at in 0..meta.len() {
            for bit in 0..8 {
                let mut bad = meta.clone();
                bad[at] ^= 1 << bit;
                let _ = plan(&bad, l);
            }
        }
        let mut x = 1u32;
        for _ in 0..2000 {
            let mut junk = MAGIC.to_vec();
            junk.extend_from_slice(&1u64.to_be_bytes());
            junk.extend_from_slice(&64u64.to_be_bytes());
            for _ in 0..64 {
                x = x.wrapping_mul(1_103_515_245).wrapping_add(12345);
                junk.push((x >> 16) as u8);
            }
            let _ = plan(&junk, l);
        }
    }

    #[test]
    fn extreme_extents_are_refused_without_overflow() {
        let mut m = sample();
        m.partition_operations[0].dst_extents[0].start_block = Some(u64::MAX - 1);
        let meta = metadata(&m);
        let e = plan(&meta, limits(&meta)).unwrap_err();
        assert_eq!(e.kind(), "crau-operation", "{e}");
        let mut m = sample();
        m.block_size = Some(3000);
        let meta = metadata(&m);
        assert_eq!(
            plan(&meta, limits(&meta)).unwrap_err().kind(),
            "crau-manifest"
        );
        let mut m = sample();
        m.procedures[0].operations = vec![op(4196, 10, 1, 1)];
        m.signatures_offset = Some(4206);
        let meta = metadata(&m);
        let mut l = limits(&meta);
        l.payload_size += 10;
        // The kernel's extent (block 1) lies beyond its 10 bytes.
        let e = plan(&meta, l).unwrap_err();
        assert!(e.to_string().contains("outside its destination"), "{e}");
    }
}
