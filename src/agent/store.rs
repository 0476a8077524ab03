//! The agent's record on disk: `/var/lib/kindling/agent.json` in the root, written
//! atomically after every transition, and the lock that lets one agent at a time work on a
//! root (`/var/lib/kindling/agent.lock`, an exclusive `flock`).

use std::fs;
use std::path::PathBuf;

use super::state::Record;
use crate::root::Root;

/// The record's path in the root.
pub const RECORD: &str = "/var/lib/kindling/agent.json";
/// The lock's path in the root.
pub const LOCK: &str = "/var/lib/kindling/agent.lock";

/// The record of a root, and (when held) its lock.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    _lock: Option<fs::File>,
}

impl Store {
    /// Open the store for reading only (status).
    ///
    /// # Errors
    /// A path that leaves the root.
    pub fn reader(root: &Root) -> Result<Store, String> {
        Ok(Store {
            path: root.resolve(RECORD).map_err(|e| e.to_string())?,
            _lock: None,
        })
    }

    /// Open the store and take its lock; `Ok(None)` when another agent holds it.
    ///
    /// # Errors
    /// When the lock file cannot be made.
    pub fn locked(root: &Root) -> Result<Option<Store>, String> {
        let lock = root.resolve(LOCK).map_err(|e| e.to_string())?;
        if let Some(dir) = lock.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|e| format!("cannot open {}: {e}", lock.display()))?;
        if file.try_lock().is_err() {
            return Ok(None);
        }
        Ok(Some(Store {
            path: root.resolve(RECORD).map_err(|e| e.to_string())?,
            _lock: Some(file),
        }))
    }

    /// Load the record (a missing file is a fresh agent). A record that cannot be read as
    /// JSON is moved aside (`agent.json.unreadable`) and a fresh one started, with a warning
    /// in the returned message, so a damaged file never stops updates for good.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn load(&self) -> Result<(Record, Option<String>), String> {
        match fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(record) => Ok((record, None)),
                Err(e) => {
                    let aside = self.path.with_extension("json.unreadable");
                    if self._lock.is_some() {
                        let _ = fs::rename(&self.path, &aside);
                    }
                    Ok((
                        Record::default(),
                        Some(format!(
                            "{} could not be read ({e}); moved to {} and started afresh",
                            self.path.display(),
                            aside.display()
                        )),
                    ))
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((Record::default(), None)),
            Err(e) => Err(format!("cannot read {}: {e}", self.path.display())),
        }
    }

    /// Write the record atomically.
    ///
    /// # Errors
    /// I/O errors, with the path.
    pub fn save(&self, record: &Record) -> Result<(), String> {
        let mut text = serde_json::to_vec_pretty(record)
            .map_err(|e| format!("internal error (a bug in kindling): {e}"))?;
        text.push(b'\n');
        crate::apply::write_file(&self.path, &text, 0o644, (0, 0)).map_err(|e| e.to_string())
    }
}
