//! The slot as a byte region of an image file or block device: opening it (only an existing
//! regular file or block device, never created or extended), checking that the payload fits
//! and that the region lies inside the file, positional writes and reads (`pwrite`/`pread`,
//! so nothing outside the region is touched), and the final `fdatasync`.

use std::fs::{File, OpenOptions};
use std::io::{Seek, SeekFrom};
use std::os::unix::fs::{FileExt, FileTypeExt};
use std::path::{Path, PathBuf};

use super::PayloadError;

/// Where a payload goes: `len` bytes at `offset` of the image file or device `path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The disk image file or block device.
    pub path: PathBuf,
    /// The region's first byte within it.
    pub offset: u64,
    /// The region's length in bytes.
    pub len: u64,
}

/// An open region.
#[derive(Debug)]
pub(crate) struct Region {
    file: File,
    path: PathBuf,
    offset: u64,
}

impl Region {
    /// Open the region for writing a payload of `size` bytes, refusing before anything is
    /// written when it does not fit.
    pub(crate) fn open(target: &Target, size: u64, write: bool) -> Result<Self, PayloadError> {
        let unusable = |reason: String| PayloadError::RegionUnusable {
            path: target.path.clone(),
            reason,
        };
        if size > target.len {
            return Err(PayloadError::RegionTooSmall {
                path: target.path.clone(),
                offset: target.offset,
                len: target.len,
                size,
            });
        }
        let end = target
            .offset
            .checked_add(target.len)
            .ok_or_else(|| unusable("offset + length overflows".into()))?;
        // Never create or truncate: the slot must already exist.
        let mut file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(&target.path)
            .map_err(|e| unusable(format!("cannot open: {e}")))?;
        let kind = file
            .metadata()
            .map_err(|e| unusable(format!("cannot stat: {e}")))?
            .file_type();
        if !(kind.is_file() || kind.is_block_device()) {
            return Err(unusable("not a regular file or block device".into()));
        }
        // A block device's metadata length is 0; seeking to its end gives its size.
        let device_len = file
            .seek(SeekFrom::End(0))
            .map_err(|e| unusable(format!("cannot find its size: {e}")))?;
        if end > device_len {
            return Err(PayloadError::RegionOutsideDevice {
                path: target.path.clone(),
                offset: target.offset,
                end,
                device_len,
            });
        }
        Ok(Self {
            file,
            path: target.path.clone(),
            offset: target.offset,
        })
    }

    /// Write `bytes` at payload position `pos` (relative to the region).
    pub(crate) fn write_at(&self, bytes: &[u8], pos: u64) -> Result<(), PayloadError> {
        let at = self.offset + pos;
        self.file
            .write_all_at(bytes, at)
            .map_err(|e| PayloadError::write(&self.path, at, e))
    }

    /// Fill `buf` from payload position `pos`.
    pub(crate) fn read_at(&self, buf: &mut [u8], pos: u64) -> Result<(), PayloadError> {
        let at = self.offset + pos;
        self.file
            .read_exact_at(buf, at)
            .map_err(|source| PayloadError::RegionIo {
                op: "read",
                path: self.path.clone(),
                at,
                source,
            })
    }

    /// The image file or device.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Make what was written durable (fdatasync).
    pub(crate) fn sync(&self) -> Result<(), PayloadError> {
        self.file
            .sync_data()
            .map_err(|source| PayloadError::RegionIo {
                op: "sync",
                path: self.path.clone(),
                at: self.offset,
                source,
            })
    }
}
