//! Batched durable writes: many files replaced at once, each atomically, with one `syncfs`
//! instead of two fsyncs per file.
//!
//! A [`Batch`] stages every file as a temporary file (or symlink) beside its target, named
//! `.kindling-…` so that `sweep` removes what a killed apply left, with mode and owner set
//! on the open file and no fsync. [`Batch::commit`] then calls `syncfs` once on every file
//! system the temporaries are on, and only after all of them succeeded renames each
//! temporary over its target, then calls `syncfs` once more so that the renames themselves
//! (directory entries) are on the disk before the caller goes on.
//!
//! Why this is as safe as a temp file, fsync, rename, fsync of the directory per file:
//! `syncfs(2)` writes out the data and the metadata of every file of that file system and
//! waits for it (on ext4 and xfs: a journal commit and a cache flush), so when it returns
//! successfully every temporary is whole on the disk. A rename made after that can only
//! ever expose a whole file: after a crash or power loss each target is its old content
//! (rename not yet durable) or its new content (rename durable), never a part. A kill
//! (SIGKILL) cannot tear anything either: renames are atomic and the page cache survives the
//! process. If `syncfs` reports an error, [`Batch::commit`] returns it before renaming
//! anything, and the dropped batch removes its temporaries: no target changed. (`syncfs`
//! reports writeback errors since Linux 5.8; older kernels returned success regardless.)
//!
//! This module never fsyncs file by file and never renames before the sync; the lone writes
//! (the agent's record, fleet.json, the apply's marker and state file) keep using
//! `super::write::write_file`.

use std::fs;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use super::error::{ApplyError, io};
use super::write::{make_parents, stage};

/// Makes every file of the file system an open file is on durable: `syncfs` on a node, a
/// stand-in in the tests that prove nothing is renamed before it.
pub(crate) type SyncFs<'a> = dyn Fn(&fs::File) -> io::Result<()> + 'a;

/// The real `syncfs(2)`.
pub(crate) fn syncfs(file: &fs::File) -> io::Result<()> {
    rustix::fs::syncfs(file).map_err(io::Error::from)
}

/// One staged replacement: a temporary beside its target. Dropping it (an apply that fails
/// before the rename) removes the temporary.
struct Staged {
    temp: TempPath,
    target: PathBuf,
}

/// Files staged to replace their targets together; see the module's comment.
pub(crate) struct Batch<'s> {
    sync: &'s SyncFs<'s>,
    staged: Vec<Staged>,
}

impl<'s> Batch<'s> {
    /// An empty batch made durable with `sync` (normally [`syncfs`]).
    pub(crate) fn new(sync: &'s SyncFs<'s>) -> Self {
        Batch {
            sync,
            staged: Vec::new(),
        }
    }

    /// Stage `bytes` for `path`, with `mode` and `owner` set on the open temporary file.
    pub(crate) fn file(
        &mut self,
        path: &Path,
        bytes: &[u8],
        mode: u32,
        owner: (u32, u32),
    ) -> Result<(), ApplyError> {
        let temp = stage(path, bytes, mode, owner)?.into_temp_path();
        self.staged.push(Staged {
            temp,
            target: path.to_path_buf(),
        });
        Ok(())
    }

    /// Stage a symbolic link to `target` for `path`.
    pub(crate) fn symlink(&mut self, path: &Path, target: &str) -> Result<(), ApplyError> {
        let dir = path.parent().unwrap_or(Path::new("/"));
        make_parents(dir)?;
        let tmp = tempfile::Builder::new()
            .prefix(".kindling-link-")
            .make_in(dir, |p| std::os::unix::fs::symlink(target, p))
            .map_err(io(dir))?;
        self.staged.push(Staged {
            temp: tmp.into_temp_path(),
            target: path.to_path_buf(),
        });
        Ok(())
    }

    /// Sync, then rename every temporary over its target, then make the renames durable.
    /// Returns how many targets were replaced.
    ///
    /// # Errors
    /// When a sync fails (then nothing was renamed and the temporaries are removed), or a
    /// rename or the sync after the renames fails (then the targets renamed so far are new
    /// and whole, the others old).
    pub(crate) fn commit(self) -> Result<usize, ApplyError> {
        let dirs = distinct_dirs(self.staged.iter().map(|s| s.target.as_path()));
        // Every temporary must be whole on the disk before the first rename: syncfs writes
        // out and waits for the data and metadata of every file of the file system it is
        // called on, so after it succeeds a rename can only expose a whole file, even after a
        // power loss. One per file system the temporaries are on (a root may have mounts
        // inside it, e.g. /var); any failure returns here, before a single rename, and the
        // dropped temporaries are removed.
        let mut devices: Vec<(u64, fs::File, PathBuf)> = Vec::new();
        for dir in &dirs {
            let handle = fs::File::open(dir).map_err(io(dir))?;
            let dev = handle.metadata().map_err(io(dir))?.dev();
            if !devices.iter().any(|d| d.0 == dev) {
                (self.sync)(&handle).map_err(io(dir))?;
                devices.push((dev, handle, dir.clone()));
            }
        }
        let count = self.staged.len();
        for staged in self.staged {
            let target = staged.target;
            staged
                .temp
                .persist(&target)
                .map_err(|e| io(&target)(e.error))?;
        }
        // The renames are directory entries; a second syncfs per file system puts them on the
        // disk. An fsync of each parent directory would be as correct, but measured slower
        // for the boot-time benchmark's 5 directories on this VM's loaded ext4 disk (median
        // 71–74 ms against 50–65 ms for the whole apply, 70 interleaved pairs; see
        // book/src/performance.md): each directory fsync is a journal commit of its own.
        for (_, handle, dir) in &devices {
            (self.sync)(handle).map_err(io(dir))?;
        }
        Ok(count)
    }
}

/// The parent directories of `paths`, each once, in first-seen order.
fn distinct_dirs<'p>(paths: impl Iterator<Item = &'p Path>) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in paths {
        let dir = p.parent().unwrap_or(Path::new("/"));
        if !dirs.iter().any(|d| d == dir) {
            dirs.push(dir.to_path_buf());
        }
    }
    dirs
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;
    use std::os::unix::fs::PermissionsExt;

    fn staged_batch<'s>(dir: &Path, sync: &'s SyncFs<'s>) -> Batch<'s> {
        let mut batch = Batch::new(sync);
        batch
            .file(&dir.join("etc/a"), b"new a", 0o600, (0, 0))
            .unwrap();
        batch
            .file(&dir.join("etc/sub/b"), b"new b", 0o644, (0, 0))
            .unwrap();
        batch.symlink(&dir.join("etc/link"), "/dev/null").unwrap();
        batch
    }

    fn temps(dir: &Path) -> Vec<String> {
        let mut found = Vec::new();
        for d in [dir.join("etc"), dir.join("etc/sub")] {
            for e in fs::read_dir(d).unwrap() {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                if name.starts_with(".kindling-") {
                    found.push(name);
                }
            }
        }
        found
    }

    /// The first sync comes before every rename: when it runs, every target is still old;
    /// the second comes after all of them.
    #[test]
    fn nothing_is_renamed_before_the_sync() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/a"), "old a").unwrap();
        let root = dir.path().to_path_buf();
        let calls = Cell::new(0);
        let sync = |f: &fs::File| {
            calls.set(calls.get() + 1);
            if calls.get() == 1 {
                assert_eq!(fs::read(root.join("etc/a")).unwrap(), b"old a");
                assert!(!root.join("etc/sub/b").exists());
                assert!(fs::symlink_metadata(root.join("etc/link")).is_err());
            } else {
                assert_eq!(fs::read(root.join("etc/a")).unwrap(), b"new a");
                assert!(root.join("etc/sub/b").exists());
            }
            syncfs(f)
        };
        let batch = staged_batch(dir.path(), &sync);
        assert_eq!(batch.commit().unwrap(), 3);
        // All three directories are on one file system: one sync before, one after.
        assert_eq!(calls.get(), 2);
        assert_eq!(fs::read(dir.path().join("etc/a")).unwrap(), b"new a");
        let mode = fs::metadata(dir.path().join("etc/a"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o600);
        assert_eq!(fs::read(dir.path().join("etc/sub/b")).unwrap(), b"new b");
        assert_eq!(
            fs::read_link(dir.path().join("etc/link")).unwrap(),
            Path::new("/dev/null")
        );
        assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
    }

    /// A failed sync fails the commit before any rename, and leaves no temporary behind.
    #[test]
    fn a_failed_sync_changes_no_target() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/a"), "old a").unwrap();
        let sync = |_: &fs::File| Err(io::Error::other("injected syncfs failure"));
        let batch = staged_batch(dir.path(), &sync);
        assert_eq!(temps(dir.path()).len(), 3, "staged as temporaries");
        let err = batch.commit().unwrap_err().to_string();
        assert!(err.contains("injected syncfs failure"), "{err}");
        assert_eq!(fs::read(dir.path().join("etc/a")).unwrap(), b"old a");
        assert!(!dir.path().join("etc/sub/b").exists());
        assert!(fs::symlink_metadata(dir.path().join("etc/link")).is_err());
        assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
    }
}
