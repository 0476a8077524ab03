//! The server's directory: its layout, atomic writes of its JSON files, and the lock that
//! serialises their writers.
//!
//! ```text
//! DIR/releases.json                          the release index (every channel; see releases.rs)
//! DIR/channels.json                          rollout controls (see settings.rs)
//! DIR/instances.json                         the machines seen (see instances.rs)
//! DIR/packages/CHANNEL/VERSION/NAME          a payload
//! DIR/packages/CHANNEL/VERSION/NAME.minisig  its detached minisign signature
//! DIR/.lock                                  flock'd by every writer of the two .json files
//! ```
//! Every shared file is replaced atomically (temp file, fsync, rename, fsync the directory)
//! under the lock; a missing file reads as empty, one that does not parse is an error that
//! names it.

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The release index file.
pub const RELEASES_FILE: &str = "releases.json";
/// The rollout controls file.
pub const CHANNELS_FILE: &str = "channels.json";
/// The instances file.
pub const INSTANCES_FILE: &str = "instances.json";
/// Where payloads live.
pub const PACKAGES_DIR: &str = "packages";

/// Errors reading or writing the directory.
#[derive(Debug, Error)]
pub enum DirectoryError {
    /// An I/O failure, with the path.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: io::Error,
    },
    /// A JSON file that does not parse.
    #[error(
        "{path} is not a valid kindling update-server file: {message}; restore it from a backup or remove it"
    )]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// serde's message.
        message: String,
    },
}

/// Read a JSON file, or the default when it does not exist.
///
/// # Errors
/// [`DirectoryError`].
pub fn read_json<T: Default + for<'de> Deserialize<'de>>(path: &Path) -> Result<T, DirectoryError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| DirectoryError::Corrupt {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(io_at(path, e)),
    }
}

/// Write a JSON file atomically (temp file, fsync, rename, fsync the directory).
///
/// # Errors
/// [`DirectoryError::Io`].
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), DirectoryError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| DirectoryError::Corrupt {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    bytes.push(b'\n');
    atomic_write(path, &bytes)
}

/// Replace `path` with `bytes` atomically.
///
/// # Errors
/// [`DirectoryError::Io`].
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<(), DirectoryError> {
    let parent = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-")
        .tempfile_in(parent)
        .map_err(|e| io_at(parent, e))?;
    tmp.write_all(bytes).map_err(|e| io_at(tmp.path(), e))?;
    tmp.as_file().sync_all().map_err(|e| io_at(path, e))?;
    tmp.persist(path).map_err(|e| io_at(path, e.error))?;
    sync_dir(parent)
}

/// Fsync a directory (after a rename in it).
pub(crate) fn sync_dir(dir: &Path) -> Result<(), DirectoryError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_at(dir, e))
}

/// Take the directory's writer lock (released when the file is dropped).
///
/// # Errors
/// [`DirectoryError::Io`].
pub fn lock(dir: &Path) -> Result<File, DirectoryError> {
    let path = dir.join(".lock");
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| io_at(&path, e))?;
    file.lock().map_err(|e| io_at(&path, e))?;
    Ok(file)
}

/// An I/O error at `path`.
pub(crate) fn io_at(path: &Path, source: io::Error) -> DirectoryError {
    DirectoryError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Now, in Unix seconds.
#[must_use]
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
