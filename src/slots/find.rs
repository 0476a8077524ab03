//! Finding the disk that holds a partition on a real node, always below a root directory so
//! tests can build a fake `/dev` and `/sys`.
//!
//! The route is udev's and the kernel's: `ROOT/dev/disk/by-partuuid/<uuid>` links to the
//! partition's device node (`../../sda3`); in sysfs each whole disk's directory holds a
//! directory per partition (`/sys/class/block/sda/sda3/partition`), which names the disk;
//! the disk is `ROOT/dev/<disk>`. When udev's link is missing, every whole disk listed in
//! sysfs is opened and its GPT searched, as `cgpt find` does. The booted partition is the
//! one `ROOT/proc/cmdline` names.

use std::path::{Path, PathBuf};

use super::cmdline::booted_partuuid;
use super::disk::Disk;
use super::error::SlotsError;

/// What to pass when the booted disk cannot be found: every `slots` command takes `--disk`.
const PASS_DISK: &str = "pass --disk IMG to name the disk";

/// The booted /usr partition's PARTUUID, as `ROOT/proc/cmdline` names it. When there is
/// none, the error suggests `remedy` (an option of the caller's command).
pub fn booted_under(root: &Path, remedy: &'static str) -> Result<String, SlotsError> {
    let path = root.join("proc/cmdline");
    let text = std::fs::read_to_string(&path).map_err(|e| SlotsError::io("read", &path, e))?;
    booted_partuuid(&text).ok_or(SlotsError::NoBootedSlot { path, remedy })
}

/// The disk image or device `disk`, or else the disk holding the booted /usr partition
/// under `root`, opened.
pub fn open_disk(disk: Option<&Path>, root: &Path) -> Result<Disk, SlotsError> {
    match disk {
        Some(path) => Disk::open(path),
        None => Disk::open(&find_disk(root, &booted_under(root, PASS_DISK)?)?),
    }
}

/// The disk (device path under `root`) that holds the partition `partuuid`.
pub fn find_disk(root: &Path, partuuid: &str) -> Result<PathBuf, SlotsError> {
    let partuuid = partuuid.to_ascii_lowercase();
    let not_found = |detail: String| SlotsError::DiskNotFound {
        root: root.to_path_buf(),
        partuuid: partuuid.clone(),
        detail,
    };
    let sys_block = root.join("sys/class/block");
    if let Some(part) = partition_name(root, &partuuid) {
        let shown = part.to_string_lossy().into_owned();
        let disks = std::fs::read_dir(&sys_block)
            .map_err(|e| not_found(format!("{} cannot be listed ({e})", sys_block.display())))?;
        for disk in disks.flatten() {
            if disk.path().join(&part).join("partition").is_file() {
                let dev = root.join("dev").join(disk.file_name());
                if dev.exists() {
                    return Ok(dev);
                }
                return Err(not_found(format!(
                    "sysfs names disk {} for partition {shown}, but {} does not exist",
                    disk.file_name().to_string_lossy(),
                    dev.display()
                )));
            }
        }
        return Err(not_found(format!(
            "no disk in {} has a partition {shown}",
            sys_block.display()
        )));
    }
    // No udev link: search the GPT of every whole disk sysfs lists.
    let disks = std::fs::read_dir(&sys_block).map_err(|e| {
        not_found(format!(
            "dev/disk/by-partuuid has no link for it and {} cannot be listed ({e})",
            sys_block.display()
        ))
    })?;
    let mut names: Vec<_> = disks
        .flatten()
        .filter(|d| !d.path().join("partition").exists())
        .map(|d| d.file_name())
        .collect();
    names.sort();
    for name in names {
        let dev = root.join("dev").join(&name);
        if !dev.exists() {
            continue;
        }
        let Ok(disk) = Disk::open(&dev) else { continue };
        if disk.has_partuuid(&partuuid).unwrap_or(false) {
            return Ok(dev);
        }
    }
    Err(not_found(
        "no dev/disk/by-partuuid link and no whole disk in sys/class/block has it".into(),
    ))
}

/// The partition's kernel name (`sda3`) from udev's by-partuuid link, if there is one.
fn partition_name(root: &Path, partuuid: &str) -> Option<std::ffi::OsString> {
    let dir = root.join("dev/disk/by-partuuid");
    // udev writes lowercase names; match case-insensitively all the same.
    let entry = std::fs::read_dir(&dir).ok()?.flatten().find(|e| {
        e.file_name()
            .to_str()
            .is_some_and(|n| n.eq_ignore_ascii_case(partuuid))
    })?;
    let target = std::fs::read_link(entry.path()).ok()?;
    target.file_name().map(ToOwned::to_owned)
}
