//! Write a plan as a directory laid out like the node's root, plus the manifest.
//!
//! The tree is built in a temporary directory beside the output and then renamed into
//! place (the previous output, if kindling made it, is moved aside and removed only after
//! the new one is in place). The output must be absent, empty, or a previous kindling
//! tree (it has `kindling-plan.json`); anything else is refused so no user data is lost.
//! Modes are set as planned; owners are recorded in the manifest (applied by
//! `kindling apply`), since compiling needs no privileges. Like any compiler's output the
//! tree is not fsynced file by file: it is an artifact, made whole by the final rename;
//! durability on a node is `kindling apply`'s job.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt, symlink};
use std::path::{Component, Path, PathBuf};

use crate::plan::{Content, Plan, PlannedFile};

/// Why the tree could not be written.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// The output exists and is not kindling's.
    #[error(
        "{0} exists and is not a kindling output (no kindling-plan.json); refusing to replace it"
    )]
    NotOurs(PathBuf),
    /// A planned path is not a plain absolute path.
    #[error("internal error: planned path {0:?} is not a clean absolute path")]
    BadPath(String),
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TreeError + '_ {
    move |source| TreeError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `out` joined with a planned absolute path, refusing anything but normal components.
fn inside(out: &Path, planned: &str) -> Result<PathBuf, TreeError> {
    let rel = Path::new(planned)
        .strip_prefix("/")
        .map_err(|_| TreeError::BadPath(planned.to_string()))?;
    if rel.as_os_str().is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(TreeError::BadPath(planned.to_string()));
    }
    Ok(out.join(rel))
}

fn write_file(path: &Path, file: &PlannedFile) -> Result<(), TreeError> {
    match &file.content {
        Content::Bytes(bytes) => {
            let mut f = fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(file.mode & 0o777)
                .open(path)
                .map_err(io(path))?;
            f.write_all(bytes).map_err(io(path))?;
            // The umask may have cleared bits, and special bits are never set by open.
            fs::set_permissions(path, fs::Permissions::from_mode(file.mode)).map_err(io(path))?;
        }
        Content::Symlink(target) => symlink(target, path).map_err(io(path))?,
    }
    Ok(())
}

fn write_into(root: &Path, plan: &Plan, manifest: &str) -> Result<usize, TreeError> {
    // Directories first, each once (not one create_dir_all per file).
    let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
    let mut jobs: Vec<(PathBuf, &PlannedFile)> = Vec::with_capacity(plan.files.len());
    for file in &plan.files {
        let path = inside(root, &file.path)?;
        if let Some(parent) = path.parent() {
            dirs.insert(parent.to_path_buf());
        }
        jobs.push((path, file));
    }
    for dir in &dirs {
        fs::create_dir_all(dir).map_err(io(dir))?;
    }
    // Files on both cores: creating files is bound by each directory's lock, so split by
    // directory, alternating, to keep the halves balanced.
    let mut by_dir: std::collections::BTreeMap<&Path, Vec<&(PathBuf, &PlannedFile)>> =
        std::collections::BTreeMap::new();
    for job in &jobs {
        by_dir
            .entry(job.0.parent().unwrap_or(root))
            .or_default()
            .push(job);
    }
    let mut groups: Vec<Vec<&(PathBuf, &PlannedFile)>> = vec![Vec::new(), Vec::new()];
    let mut sizes = [0usize; 2];
    let mut dir_lists: Vec<_> = by_dir.into_values().collect();
    dir_lists.sort_by_key(|l| std::cmp::Reverse(l.len()));
    for list in dir_lists {
        let i = usize::from(sizes[1] < sizes[0]);
        sizes[i] += list.len();
        groups[i].extend(list);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| {
                scope.spawn(move || {
                    for (path, file) in group {
                        write_file(path, file)?;
                    }
                    Ok::<(), TreeError>(())
                })
            })
            .collect();
        for handle in handles {
            handle
                .join()
                .unwrap_or_else(|_| Err(TreeError::BadPath("a writer thread panicked".into())))?;
        }
        Ok::<(), TreeError>(())
    })?;
    let manifest_path = root.join(super::manifest::FILE_NAME);
    fs::write(&manifest_path, manifest).map_err(io(&manifest_path))?;
    Ok(jobs.len())
}

/// Write `plan` (and its `manifest`) as the directory `out`; returns the number of files.
///
/// # Errors
/// When `out` is not kindling's, or the file system refuses.
pub fn write(plan: &Plan, manifest: &str, out: &Path) -> Result<usize, TreeError> {
    let existing = match fs::symlink_metadata(out) {
        Ok(meta) => {
            let ours = meta.is_dir() && out.join(super::manifest::FILE_NAME).is_file();
            let empty = meta.is_dir() && fs::read_dir(out).map_err(io(out))?.next().is_none();
            if !ours && !empty {
                return Err(TreeError::NotOurs(out.to_path_buf()));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(io(out)(e)),
    };
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io(parent))?;
    let staging = tempfile::Builder::new()
        .prefix(".kindling-tree-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    fs::set_permissions(staging.path(), fs::Permissions::from_mode(0o755))
        .map_err(io(staging.path()))?;
    let count = write_into(staging.path(), plan, manifest)?;
    if existing {
        let old = tempfile::Builder::new()
            .prefix(".kindling-old-")
            .tempdir_in(parent)
            .map_err(io(parent))?;
        let old_path = old.path().join("tree");
        fs::rename(out, &old_path).map_err(io(out))?;
        if let Err(e) = fs::rename(staging.path(), out) {
            // Put the previous output back before reporting.
            let _ = fs::rename(&old_path, out);
            return Err(io(out)(e));
        }
        drop(old);
    } else {
        fs::rename(staging.path(), out).map_err(io(out))?;
    }
    // The staging directory is now `out`; do not let its guard delete it.
    let _ = staging.keep();
    Ok(count)
}
