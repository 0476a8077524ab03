//! The agent's record file: `/var/lib/kindling/agent.json` in the root, written atomically
//! after every transition, and the lock that lets one agent at a time work on a root
//! (`/var/lib/kindling/agent.lock`, an exclusive `flock`). Reading it never needs the lock
//! (`status`); writing it does. When the agent serves update_engine's D-Bus interface, every
//! save also hands the record's status to the bus ([`RecordFile::publish_to`]): the bus
//! hears of each change as soon as it is on disk.

use std::fs;
use std::path::PathBuf;

use super::error::Error;
use super::state::{Record, RecordWire};
use crate::root::Root;

/// The record's path in the root.
pub const RECORD: &str = "/var/lib/kindling/agent.json";
/// The lock's path in the root.
pub const LOCK: &str = "/var/lib/kindling/agent.lock";

/// The record file of a root, and (when held) its lock.
#[derive(Debug)]
pub struct RecordFile {
    path: PathBuf,
    lock: Option<fs::File>,
    /// Where each saved record's status goes (the D-Bus side), when the agent serves one.
    feed: Option<crate::bus::Publisher>,
}

impl RecordFile {
    /// Open the record file for reading only (status).
    ///
    /// # Errors
    /// A path that leaves the root.
    pub fn reader(root: &Root) -> Result<RecordFile, Error> {
        Ok(RecordFile {
            path: root.resolve(RECORD)?,
            lock: None,
            feed: None,
        })
    }

    /// Open the record file and take its lock; `Ok(None)` when another agent holds it.
    ///
    /// # Errors
    /// When the lock file cannot be made.
    pub fn locked(root: &Root) -> Result<Option<RecordFile>, Error> {
        let lock = root.resolve(LOCK)?;
        if let Some(dir) = lock.parent() {
            fs::create_dir_all(dir).map_err(|source| Error::CreateDir {
                dir: dir.to_path_buf(),
                source,
            })?;
        }
        let file = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock)
            .map_err(|source| Error::OpenLock {
                path: lock.clone(),
                source,
            })?;
        if file.try_lock().is_err() {
            return Ok(None);
        }
        Ok(Some(RecordFile {
            path: root.resolve(RECORD)?,
            lock: Some(file),
            feed: None,
        }))
    }

    /// Load the record (a missing file is a fresh agent). A record that cannot be read as
    /// JSON is moved aside (`agent.json.unreadable`) and a fresh one started, with a warning
    /// in the returned message, so a damaged file never stops updates for good.
    ///
    /// # Errors
    /// When the file exists but cannot be read.
    pub fn load(&self) -> Result<(Record, Option<String>), Error> {
        match fs::read(&self.path) {
            Ok(bytes) => match serde_json::from_slice::<RecordWire>(&bytes) {
                Ok(wire) => Ok(match Record::from_wire_keeping_memory(wire) {
                    (record, None) => (record, None),
                    (record, Some(mismatch)) => (
                        record,
                        Some(format!(
                            "{} holds {mismatch}; kept the denied versions, failures and lock, and started idle",
                            self.path.display()
                        )),
                    ),
                }),
                Err(e) => {
                    let aside = self.path.with_extension("json.unreadable");
                    if self.lock.is_some() {
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
            Err(source) => Err(Error::ReadRecord {
                path: self.path.clone(),
                source,
            }),
        }
    }

    /// Write the record atomically.
    ///
    /// # Errors
    /// I/O errors, with the path.
    pub fn save(&self, record: &Record) -> Result<(), Error> {
        let mut text = serde_json::to_vec_pretty(record).map_err(Error::EncodeRecord)?;
        text.push(b'\n');
        crate::apply::write_file(&self.path, &text, 0o644, (0, 0)).map_err(Error::WriteRecord)?;
        if let Some(feed) = &self.feed {
            feed.publish(super::status::bus_status(record));
        }
        Ok(())
    }

    /// Hand every saved record's status to `feed` from now on.
    pub fn publish_to(&mut self, feed: crate::bus::Publisher) {
        self.feed = Some(feed);
    }
}
