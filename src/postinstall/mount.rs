//! The new slot mounted read-only for its `/postinst`, as update_engine mounts it
//! (`PostinstallRunnerAction::PerformAction`): on a fresh `/tmp/au_postint_mount.XXXXXX`,
//! `MS_RDONLY`, trying ext2, then ext3, then btrfs with `rescue=nologreplay`; a btrfs that
//! the kernel refuses with `EEXIST` (the same filesystem as the booted `/usr`) runs the booted
//! `/usr/postinst` instead. The mount is undone and the directory removed on drop. Used only
//! on a real node (root `/`).

use std::path::{Path, PathBuf};

use rustix::mount::{MountFlags, UnmountFlags, mount, unmount};

use super::PostinstallError;

/// A mounted slot (or the booted `/usr`, for an identical btrfs).
pub struct Mounted {
    /// The directory whose `postinst` runs.
    pub dir: PathBuf,
    /// The mount point to undo, when something was mounted.
    mounted: Option<tempfile::TempDir>,
}

/// Mounts `device` read-only on a new directory under `/tmp`.
///
/// # Errors
/// [`PostinstallError::Mount`] when no filesystem type mounts it, `Io` when the mount point
/// cannot be made.
pub fn mount_slot(device: &Path) -> Result<Mounted, PostinstallError> {
    let dir = tempfile::Builder::new()
        .prefix("au_postint_mount.")
        .tempdir_in("/tmp")
        .map_err(|source| PostinstallError::Io {
            action: "create a mount point in",
            path: PathBuf::from("/tmp"),
            source,
        })?;
    let mut last = None;
    for (fstype, data) in [
        ("ext2", None),
        ("ext3", None),
        ("btrfs", Some(c"rescue=nologreplay")),
    ] {
        match mount(device, dir.path(), fstype, MountFlags::RDONLY, data) {
            Ok(()) => {
                return Ok(Mounted {
                    dir: dir.path().to_path_buf(),
                    mounted: Some(dir),
                });
            }
            Err(rustix::io::Errno::EXIST) if fstype == "btrfs" => {
                return Ok(Mounted {
                    dir: PathBuf::from("/usr"),
                    mounted: None,
                });
            }
            Err(e) => last = Some(e),
        }
    }
    Err(PostinstallError::Mount {
        device: device.to_path_buf(),
        mountpoint: dir.path().to_path_buf(),
        source: last.map_or_else(|| std::io::Error::other("no filesystem type"), Into::into),
    })
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(dir) = &self.mounted {
            // A busy mount is detached rather than left behind.
            if unmount(dir.path(), UnmountFlags::empty()).is_err() {
                let _ = unmount(dir.path(), UnmountFlags::DETACH);
            }
        }
    }
}
