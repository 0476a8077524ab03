//! What a slot holds: the `share/coreos/release` (or `share/flatcar/release`) file of the
//! filesystem inside it, read without mounting anything. The slot is mounted at `/usr` on a
//! node, so the file is `/usr/share/coreos/release` there.
//!
//! Reads go through [`Region`], which exposes only the slot's own byte range of the disk: a
//! damaged or hostile filesystem can make reads fail, never reach another partition.
//! ext2/3/4 is read with ext4-view. Squashfs is recognised by its magic but not read (no
//! pure-Rust squashfs reader builds lean on kindling's MSRV: backhand 0.24 adds 17 crates),
//! so such a slot reports no version.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::SlotsError;

/// The release file of a slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Release {
    /// `COREOS_RELEASE_VERSION` or `FLATCAR_RELEASE_VERSION`.
    pub version: String,
    /// `*_RELEASE_BOARD`, when present.
    pub board: Option<String>,
    /// `*_RELEASE_APPID`, when present.
    pub appid: Option<String>,
    /// Every `KEY=VALUE` line of the file.
    pub fields: BTreeMap<String, String>,
}

/// The `KEY=VALUE` lines of a release file or an update.conf, as update_engine's simple
/// reader reads them: comments and blank lines skipped, the value after the first `=`,
/// surrounding quotes dropped; in file order.
#[must_use]
pub fn parse_key_values(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                return None;
            }
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_string(), value.to_string()))
        })
        .collect()
}

/// Parses a release file; `None` when it names no version.
#[must_use]
pub fn parse_release(text: &str) -> Option<Release> {
    let fields: BTreeMap<String, String> = parse_key_values(text).into_iter().collect();
    let pick = |suffix: &str| {
        ["COREOS_", "FLATCAR_"]
            .iter()
            .find_map(|prefix| fields.get(&format!("{prefix}{suffix}")))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    Some(Release {
        version: pick("RELEASE_VERSION")?,
        board: pick("RELEASE_BOARD"),
        appid: pick("RELEASE_APPID"),
        fields,
    })
}

/// A read-only window onto `len` bytes of a file starting at `start`.
pub struct Region {
    file: File,
    start: u64,
    len: u64,
}

impl Region {
    /// Opens `path` and limits reads to `start..start + len`.
    pub fn open(path: &Path, start: u64, len: u64) -> Result<Region, SlotsError> {
        let file = File::open(path).map_err(|e| SlotsError::io("open", path, e))?;
        Ok(Region { file, start, len })
    }

    /// Reads exactly `dst.len()` bytes at `offset` within the region.
    pub fn read_at(&mut self, offset: u64, dst: &mut [u8]) -> std::io::Result<()> {
        let end = offset.checked_add(dst.len() as u64);
        if end.is_none_or(|end| end > self.len) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "read past the end of the slot",
            ));
        }
        self.file.seek(SeekFrom::Start(self.start + offset))?;
        self.file.read_exact(dst)
    }
}

impl ext4_view::Ext4Read for Region {
    fn read(
        &mut self,
        start_byte: u64,
        dst: &mut [u8],
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync + 'static>> {
        self.read_at(start_byte, dst).map_err(Into::into)
    }
}

/// The filesystem found in a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filesystem {
    /// ext2, ext3 or ext4 (superblock magic 0xEF53 at byte 1080).
    Ext,
    /// squashfs ("hsqs" at byte 0).
    Squashfs,
    /// Anything else, including an empty slot.
    Unknown,
}

/// Recognises the filesystem in a region by its magic numbers.
pub fn sniff(region: &mut Region) -> Filesystem {
    let mut magic = [0u8; 4];
    if region.read_at(0, &mut magic).is_ok() && &magic == b"hsqs" {
        return Filesystem::Squashfs;
    }
    let mut ext = [0u8; 2];
    if region.read_at(1080, &mut ext).is_ok() && ext == [0x53, 0xEF] {
        return Filesystem::Ext;
    }
    Filesystem::Unknown
}

/// Reads the release file of the filesystem in `start..start + len` of `path`. `Ok(None)`
/// when the slot holds no readable filesystem or no release file; `Err` only when the disk
/// itself cannot be opened.
pub fn read_region(path: &Path, start: u64, len: u64) -> Result<Option<Release>, SlotsError> {
    let mut region = Region::open(path, start, len)?;
    match sniff(&mut region) {
        Filesystem::Ext => {}
        Filesystem::Squashfs | Filesystem::Unknown => return Ok(None),
    }
    let Ok(fs) = ext4_view::Ext4::load(Box::new(region)) else {
        return Ok(None);
    };
    for candidate in ["/share/coreos/release", "/share/flatcar/release"] {
        // A release file is a few hundred bytes; anything huge is not one, and is not
        // read into memory.
        let small = fs.metadata(candidate).is_ok_and(|m| m.len() <= 64 * 1024);
        if small
            && let Ok(bytes) = fs.read(candidate)
            && let Some(release) = parse_release(&String::from_utf8_lossy(&bytes))
        {
            return Ok(Some(release));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_coreos_and_flatcar_release_files() {
        let r = parse_release("COREOS_RELEASE_VERSION=1068.2.0\nCOREOS_RELEASE_BOARD=amd64-usr\n")
            .unwrap();
        assert_eq!(r.version, "1068.2.0");
        assert_eq!(r.board.as_deref(), Some("amd64-usr"));
        let r = parse_release("FLATCAR_RELEASE_VERSION=\"3815.2.0\"\n").unwrap();
        assert_eq!(r.version, "3815.2.0");
        assert!(parse_release("NAME=x\n").is_none());
        assert!(parse_release("COREOS_RELEASE_VERSION=\n").is_none());
    }
}
