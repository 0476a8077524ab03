//! Lone durable writes and removals inside a root: parents created 0755 as
//! coreos-cloudinit does, a file replaced atomically (temporary beside it, fsync, rename,
//! fsync of the directory), a file removed with its directory synced. The batch
//! (`super::batch`) stages its files through [`stage`] too.
//!
//! Nothing here renames a temporary over its target before the temporary is whole on disk.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::error::{ApplyError, io};

/// Create missing parent directories, 0755 and root-owned, as coreos-cloudinit does.
pub(crate) fn make_parents(dir: &Path) -> Result<(), ApplyError> {
    use std::os::unix::fs::DirBuilderExt;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(io(dir))
}

/// Write `bytes` to the host path `path` atomically, with mode and owner: a temp file in the
/// same directory, fsync, rename, fsync the directory. For a lone file (the apply's marker
/// and state file, the agent's record, fleet.json); many files go through `super::batch::Batch`.
pub(crate) fn write_file(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<(), ApplyError> {
    let tmp = stage(path, bytes, mode, owner)?;
    tmp.as_file().sync_all().map_err(io(path))?;
    tmp.persist(path).map_err(|e| io(path)(e.error))?;
    sync_dir(path.parent().unwrap_or(Path::new("/")))
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), ApplyError> {
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

pub(crate) fn remove(path: &Path) -> Result<(), ApplyError> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("/"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io(path)(e)),
    }
}

/// A temporary file beside `path` (named `.kindling-…`, so `sweep` removes it if the
/// process dies) holding `bytes`, with `mode` and `owner` set on the open file; not synced.
/// Both the batch and the lone [`write_file`] start here.
pub(crate) fn stage(
    path: &Path,
    bytes: &[u8],
    mode: u32,
    owner: (u32, u32),
) -> Result<tempfile::NamedTempFile, ApplyError> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    make_parents(dir)?;
    let mut tmp = tempfile::Builder::new()
        .prefix(".kindling-")
        .tempfile_in(dir)
        .map_err(io(dir))?;
    tmp.write_all(bytes).map_err(io(path))?;
    let file = tmp.as_file();
    std::os::unix::fs::fchown(file, Some(owner.0), Some(owner.1)).map_err(io(path))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io(path))?;
    Ok(tmp)
}
