//! A slot's ext2/3/4 filesystem, read without mounting it (ext4-view, through the slots
//! module's window onto the slot's own bytes) and copied into a scratch directory, so a
//! simulated node runs the same `/postinst` a real node runs from the mounted slot.
//!
//! The whole tree is copied when its files add up to at most [`TREE_CAP`] bytes (a test
//! image, a small `/usr`); a bigger one gets only `/postinst` (its target when it is a link),
//! which is what a script that does not read its own tree needs. Names are taken as they are
//! (no `.`/`..`, no `/`: ext4 directory entries cannot hold them), set-id bits are dropped,
//! devices, FIFOs and sockets are skipped, and the depth is bounded.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ext4_view::Ext4;

use super::PostinstallError;

/// Above this many bytes of files, only `/postinst` is copied.
pub const TREE_CAP: u64 = 256 << 20;

/// Deeper directories than this are not copied (a damaged filesystem cannot loop us).
const MAX_DEPTH: usize = 64;

/// Copies the filesystem in `first_byte..first_byte + len` of `disk` into `into` (an empty
/// directory): the whole tree, or only `/postinst` when the tree is bigger than [`TREE_CAP`].
///
/// # Errors
/// [`PostinstallError::SlotUnreadable`] when it is not a readable ext filesystem,
/// [`PostinstallError::NoPostinst`] when it has no `/postinst`, `Io` when `into` cannot be
/// written.
pub fn extract(
    disk: &Path,
    first_byte: u64,
    len: u64,
    into: &Path,
) -> Result<(), PostinstallError> {
    let region = crate::slots::Region::open(disk, first_byte, len)
        .map_err(|e| PostinstallError::SlotUnreadable(e.to_string()))?;
    let fs = Ext4::load(Box::new(region)).map_err(|e| {
        PostinstallError::SlotUnreadable(format!("not an ext2/3/4 filesystem: {e}"))
    })?;
    if !fs.exists("/postinst").unwrap_or(false) {
        return Err(PostinstallError::NoPostinst);
    }
    let mut total = 0u64;
    if tree_size(&fs, &ext4_view::PathBuf::new("/"), 0, &mut total).is_ok() && total <= TREE_CAP {
        copy_dir(&fs, &ext4_view::PathBuf::new("/"), into, 0)
    } else {
        let meta = fs.metadata("/postinst").map_err(unreadable)?;
        copy_file(
            &fs,
            &ext4_view::PathBuf::new("/postinst"),
            &into.join("postinst"),
            meta.mode(),
        )
    }
}

/// Adds the sizes of the regular files under `dir` to `total`, stopping past the cap.
fn tree_size(
    fs: &Ext4,
    dir: &ext4_view::PathBuf,
    depth: usize,
    total: &mut u64,
) -> Result<(), PostinstallError> {
    if depth > MAX_DEPTH {
        return Err(PostinstallError::SlotUnreadable(
            "directories nested too deep".into(),
        ));
    }
    for entry in fs.read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        if is_dot(entry.file_name().as_ref()) {
            continue;
        }
        let kind = entry.file_type().map_err(unreadable)?;
        if kind.is_dir() {
            tree_size(fs, &entry.path(), depth + 1, total)?;
        } else if kind.is_regular_file() {
            *total = total.saturating_add(entry.metadata().map_err(unreadable)?.len());
        }
        if *total > TREE_CAP {
            return Err(PostinstallError::SlotUnreadable("too big to copy".into()));
        }
    }
    Ok(())
}

/// Copies the directory `dir` of `fs` into the existing directory `to`.
fn copy_dir(
    fs: &Ext4,
    dir: &ext4_view::PathBuf,
    to: &Path,
    depth: usize,
) -> Result<(), PostinstallError> {
    if depth > MAX_DEPTH {
        return Err(PostinstallError::SlotUnreadable(
            "directories nested too deep".into(),
        ));
    }
    for entry in fs.read_dir(dir).map_err(unreadable)? {
        let entry = entry.map_err(unreadable)?;
        let name = entry.file_name();
        if is_dot(name.as_ref()) {
            continue;
        }
        let target = to.join(std::ffi::OsStr::from_bytes(name.as_ref()));
        let kind = entry.file_type().map_err(unreadable)?;
        let path = entry.path();
        if kind.is_dir() {
            let mode = entry.metadata().map_err(unreadable)?.mode();
            std::fs::create_dir(&target).map_err(io("create", &target))?;
            copy_dir(fs, &path, &target, depth + 1)?;
            // Kept writable by its owner so the scratch directory can be removed.
            set_mode(&target, (u32::from(mode) & 0o777) | 0o700)?;
        } else if kind.is_regular_file() {
            let mode = entry.metadata().map_err(unreadable)?.mode();
            copy_file(fs, &path, &target, mode)?;
        } else if kind.is_symlink() {
            let link = fs.read_link(&path).map_err(unreadable)?;
            let link = std::path::PathBuf::from(link);
            std::os::unix::fs::symlink(&link, &target).map_err(io("create", &target))?;
        }
    }
    Ok(())
}

/// Copies one regular file (following a link) with its permission bits, set-id dropped.
fn copy_file(
    fs: &Ext4,
    from: &ext4_view::PathBuf,
    to: &Path,
    mode: u16,
) -> Result<(), PostinstallError> {
    let mut source = fs.open(from).map_err(unreadable)?;
    let mut out = std::fs::File::create_new(to).map_err(io("create", to))?;
    std::io::copy(&mut source, &mut out).map_err(io("write", to))?;
    out.flush().map_err(io("write", to))?;
    set_mode(to, u32::from(mode) & 0o777)
}

fn set_mode(path: &Path, mode: u32) -> Result<(), PostinstallError> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(io("chmod", path))
}

fn is_dot(name: &[u8]) -> bool {
    name == b"." || name == b".."
}

fn unreadable(e: ext4_view::Ext4Error) -> PostinstallError {
    PostinstallError::SlotUnreadable(e.to_string())
}

fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PostinstallError {
    let path = path.to_path_buf();
    move |source| PostinstallError::Io {
        action,
        path,
        source,
    }
}
