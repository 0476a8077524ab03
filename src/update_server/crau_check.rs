//! A CrAU payload checked before it is published: recognised by its header
//! (`payload::Format`), its signature blob found through its manifest (decoded with the
//! payload module's `DeltaArchiveManifest`), and the RSA signature over every byte before
//! it verified with the payload module's `check_signature`, against Flatcar's official key
//! and the PEM keys the publisher names. A signature over every byte before it also covers
//! every operation's data, so a corrupt payload is refused here; a delta payload (which
//! kindling's agent refuses) is refused too. The payload is read once, streamed.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use prost::Message as _;
use sha2::{Digest, Sha256};

use crate::payload::{DeltaArchiveManifest, Format, OperationType, RsaKeys};

/// update_engine's header: `CrAU`, the format version (u64, big-endian), the manifest's size.
const HEADER_LEN: u64 = 20;

/// The largest manifest or signature blob read (Flatcar's manifests are a few KiB).
const MAX_METADATA: u64 = 16 << 20;

/// Whether the file starts like an update_engine payload.
///
/// # Errors
/// When it cannot be read.
pub fn is_crau(path: &Path) -> std::io::Result<bool> {
    let mut head = Vec::with_capacity(4);
    File::open(path)?.take(4).read_to_end(&mut head)?;
    Ok(Format::of(&head) == Format::Crau)
}

/// Verifies the payload at `path` against Flatcar's official key and the PEM files (or
/// directories of `*.pem`) in `trusted`; the name of the key that signed it.
///
/// # Errors
/// Why it is refused, for the publisher.
pub fn verify(path: &Path, trusted: &[PathBuf]) -> Result<String, String> {
    let (keys, names) = load_keys(trusted)?;
    check(path, &keys)
        .map_err(|e| names.told(&e))
        .map(|k| names.told(&k))
}

/// [`verify`] with the keys loaded.
fn check(path: &Path, keys: &RsaKeys) -> Result<String, String> {
    let mut file = File::open(path).map_err(|e| format!("cannot read it: {e}"))?;
    let len = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?
        .len();
    let header = read_exact(&mut file, HEADER_LEN)?;
    let version = u64::from_be_bytes(header[4..12].try_into().unwrap_or_default());
    if version != 1 {
        return Err(format!(
            "payload format version {version}; update_engine reads version 1"
        ));
    }
    let manifest_len = u64::from_be_bytes(header[12..20].try_into().unwrap_or_default());
    if manifest_len > MAX_METADATA {
        return Err(format!(
            "its manifest claims {manifest_len} bytes, more than {MAX_METADATA}"
        ));
    }
    let manifest = DeltaArchiveManifest::decode(read_exact(&mut file, manifest_len)?.as_slice())
        .map_err(|e| format!("its manifest does not decode: {e}"))?;
    refuse_delta(&manifest)?;
    let (Some(offset), Some(size)) = (manifest.signatures_offset, manifest.signatures_size) else {
        return Err("it is not signed (its manifest names no signatures)".into());
    };
    let signed_len = (HEADER_LEN + manifest_len)
        .checked_add(offset)
        .filter(|s| size <= MAX_METADATA && s.checked_add(size) == Some(len))
        .ok_or_else(|| {
            format!(
                "it is {len} bytes, but its manifest puts {size} bytes of signatures at \
                 {offset} after the {manifest_len}-byte manifest (truncated or extended)"
            )
        })?;
    let signed = hash_prefix(&mut file, signed_len)?;
    let blob = read_exact(&mut file, size)?;
    crate::payload::check_signature(&blob, &signed, keys).map_err(|e| match e {
        crate::payload::PayloadError::CrauBadSignature { tried } => format!(
            "no trusted key verifies its signature (tried: {}); it was altered, or its signer's \
             public key must be given with --trusted-key",
            tried.join(", ")
        ),
        other => other.to_string(),
    })
}

/// The key files as the publisher named them, for the copies the loader read.
struct Names(Vec<(String, String)>);

impl Names {
    /// `text` with each copy's path replaced by the file given.
    fn told(&self, text: &str) -> String {
        self.0
            .iter()
            .fold(text.to_string(), |t, (copy, given)| t.replace(copy, given))
    }
}

/// Flatcar's official key and the given PEM files and directories, through the payload
/// module's loader (it reads keys below a root: the files are copied into a temporary one).
fn load_keys(trusted: &[PathBuf]) -> Result<(RsaKeys, Names), String> {
    let root =
        tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let dir = root.path().join(crate::payload::KEY_DIRS[0]);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut files = Vec::new();
    for path in trusted {
        if path.is_dir() {
            let entries =
                std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let mut pems: Vec<PathBuf> = entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "pem"))
                .collect();
            pems.sort();
            files.extend(pems);
        } else {
            files.push(path.clone());
        }
    }
    let mut names = Vec::new();
    for (i, file) in files.iter().enumerate() {
        let copy = dir.join(format!("{i:04}.pem"));
        std::fs::copy(file, &copy).map_err(|e| format!("key {}: {e}", file.display()))?;
        names.push((copy.display().to_string(), file.display().to_string()));
    }
    let names = Names(names);
    let keys = RsaKeys::load(root.path());
    if let Some(bad) = keys.skipped.iter().find(|s| !s.contains("already trusted")) {
        return Err(format!(
            "a --trusted-key is not usable: {}",
            names.told(bad)
        ));
    }
    Ok((keys, names))
}

/// A delta payload names a source or uses `MOVE`/`BSDIFF`; kindling installs full ones only.
fn refuse_delta(m: &DeltaArchiveManifest) -> Result<(), String> {
    if m.old_partition_info.is_some() {
        return Err("it is a delta payload (it names an old partition); publish a full one".into());
    }
    let delta = m
        .partition_operations
        .iter()
        .chain(m.procedures.iter().flat_map(|p| p.operations.iter()))
        .find(|op| {
            matches!(
                OperationType::try_from(op.r#type),
                Ok(OperationType::Move | OperationType::Bsdiff)
            )
        });
    match delta {
        Some(op) => Err(format!(
            "it is a delta payload ({:?} operations); publish a full one",
            OperationType::try_from(op.r#type).unwrap_or(OperationType::Move)
        )),
        None => Ok(()),
    }
}

/// The SHA-256 of the first `len` bytes of the file (leaving it positioned at `len`).
fn hash_prefix(file: &mut File, len: u64) -> Result<[u8; 32], String> {
    file.seek(SeekFrom::Start(0))
        .map_err(|e| format!("cannot read it: {e}"))?;
    let mut hasher = Sha256::new();
    let mut limited = (&mut *file).take(len);
    let copied = std::io::copy(&mut limited, &mut HashWriter(&mut hasher))
        .map_err(|e| format!("cannot read it: {e}"))?;
    if copied != len {
        return Err("it is shorter than its manifest says (truncated)".into());
    }
    Ok(hasher.finalize().into())
}

fn read_exact(file: &mut File, len: u64) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    (&mut *file)
        .take(len)
        .read_to_end(&mut buf)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if buf.len() as u64 != len {
        return Err("it is shorter than its header and manifest say (truncated)".into());
    }
    Ok(buf)
}

/// A writer into a hasher, so `io::copy` streams the file through it.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
