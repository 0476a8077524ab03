//! The instance records on disk: `DIR/instances.log`, an append-only log of JSON lines,
//! `{"put":RECORD}` (the machine's whole record, replacing any earlier one) or
//! `{"evict":"MACHINE ID"}`. The server's flusher appends only the records that changed
//! since its last flush (one `write` and one `fdatasync` per flush), so a change costs what
//! it changes; when the log has grown past three times its size after the last compaction
//! (and past [`COMPACT_FLOOR`]), it is rewritten whole from the live records, atomically
//! (temp file, fsync, rename), which keeps it within a small multiple of the live table.
//!
//! Reading replays the log, the last line for a machine winning; a line that does not parse
//! (the torn tail of a crash) is skipped and counted. A directory from before the log (only
//! `instances.json`) is read from that file, and the server's first compaction writes the
//! log and renames the old file to `instances.json.migrated`.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufRead as _, BufReader, Write as _};
use std::path::{Path, PathBuf};

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize};

use super::directory::{self, DirectoryError, INSTANCES_FILE};
use super::instances::{Instance, Instances};

/// The log's file name in the server's directory.
pub const LOG_FILE: &str = "instances.log";

/// A log below this size is never compacted.
pub const COMPACT_FLOOR: u64 = 8 * 1024 * 1024;

/// One line of the log.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Entry<T> {
    /// A machine's whole record.
    Put(T),
    /// A machine evicted (over the cap, the longest unseen).
    Evict(String),
}

/// What reading found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The live records.
    pub instances: Instances,
    /// Lines that did not parse (skipped).
    pub skipped: usize,
    /// Read from the pre-log `instances.json` (the log does not exist yet).
    pub migrated: bool,
}

/// Read the records: the log when it exists, else `instances.json`, else none.
///
/// # Errors
/// [`DirectoryError`] when a file exists but cannot be read (or the old file is corrupt).
pub fn load(dir: &Path) -> Result<Loaded, DirectoryError> {
    let path = dir.join(LOG_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let old = dir.join(INSTANCES_FILE);
            let migrated = old.exists();
            return Ok(Loaded {
                instances: directory::read_json(&old)?,
                skipped: 0,
                migrated,
            });
        }
        Err(e) => return Err(directory::io_at(&path, e)),
    };
    let mut loaded = Loaded::default();
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| directory::io_at(&path, e))?;
        if n == 0 {
            break;
        }
        match serde_json::from_slice::<Entry<Instance>>(&line) {
            Ok(Entry::Put(i)) => {
                loaded.instances.instances.insert(i.machine_id.clone(), i);
            }
            Ok(Entry::Evict(id)) => {
                loaded.instances.instances.remove(&id);
            }
            Err(_) => loaded.skipped += 1,
        }
    }
    Ok(loaded)
}

/// The live records located, not read: for each machine id (in id order) where its winning
/// `put` line lies in the log, so a reader such as `update-server status` parses each record
/// once, when it writes it, and never holds the whole table. Built by [`index`].
#[derive(Debug, Default)]
pub struct Index {
    /// The log, opened (`None`: records came from the old `instances.json`).
    file: Option<File>,
    /// Machine id to (offset, length) of its last `put` line.
    lines: BTreeMap<String, (u64, usize)>,
    /// The records of a pre-log directory (read whole; `file` is `None`).
    old: Instances,
}

/// Only what locating a record needs: its id (and that its required fields are present).
#[derive(Deserialize)]
struct Located<'a> {
    #[serde(borrow)]
    machine_id: Cow<'a, str>,
    #[allow(dead_code)]
    app_id: IgnoredAny,
    #[allow(dead_code)]
    channel: IgnoredAny,
    #[allow(dead_code)]
    version: IgnoredAny,
    #[allow(dead_code)]
    first_seen: IgnoredAny,
    #[allow(dead_code)]
    last_seen: IgnoredAny,
    #[allow(dead_code)]
    state: IgnoredAny,
}

/// Replay the log cheaply: each line is scanned for its machine id only (no record is
/// built), the last `put` for a machine wins and an `evict` drops it, as [`load`] does.
///
/// # Errors
/// [`DirectoryError`] when a file exists but cannot be read (or the old file is corrupt).
pub fn index(dir: &Path) -> Result<Index, DirectoryError> {
    let path = dir.join(LOG_FILE);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Index {
                old: directory::read_json(&dir.join(INSTANCES_FILE))?,
                ..Index::default()
            });
        }
        Err(e) => return Err(directory::io_at(&path, e)),
    };
    let mut lines = BTreeMap::new();
    let mut reader = BufReader::with_capacity(1 << 20, &file);
    let mut line = Vec::new();
    let mut offset = 0u64;
    loop {
        line.clear();
        let n = reader
            .read_until(b'\n', &mut line)
            .map_err(|e| directory::io_at(&path, e))?;
        if n == 0 {
            break;
        }
        match serde_json::from_slice::<Entry<Located<'_>>>(&line) {
            Ok(Entry::Put(l)) => {
                lines.insert(l.machine_id.into_owned(), (offset, n));
            }
            Ok(Entry::Evict(id)) => {
                lines.remove(&id);
            }
            Err(_) => {}
        }
        offset += n as u64;
    }
    drop(reader);
    Ok(Index {
        file: Some(file),
        lines,
        old: Instances::default(),
    })
}

impl Index {
    /// How many machines.
    #[must_use]
    pub fn len(&self) -> usize {
        self.lines.len() + self.old.instances.len()
    }

    /// Whether there is none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every record, in machine-id order, each read and parsed as it is asked for. A located
    /// line that then does not parse as a whole record (a corrupt line, not a torn one) or
    /// cannot be read is skipped.
    pub fn records(&self) -> impl Iterator<Item = Instance> + '_ {
        let logged = self.lines.values().filter_map(|&(offset, len)| {
            use std::os::unix::fs::FileExt as _;
            let file = self.file.as_ref()?;
            let mut buf = vec![0u8; len];
            file.read_exact_at(&mut buf, offset).ok()?;
            match serde_json::from_slice::<Entry<Instance>>(&buf) {
                Ok(Entry::Put(i)) => Some(i),
                _ => None,
            }
        });
        logged.chain(self.old.instances.values().cloned())
    }
}

/// The open log the server appends to.
#[derive(Debug)]
pub struct RecordLog {
    dir: PathBuf,
    file: Option<File>,
    /// The log's size now.
    bytes: u64,
    /// Its size after the last compaction (or at open).
    base: u64,
    /// `instances.json` is still the records' file (renamed at the first compaction).
    migrating: bool,
}

impl RecordLog {
    /// The log of `dir`, for appending; `migrating` when the records were read from the
    /// old `instances.json` (the first flush then compacts, which writes the log).
    ///
    /// # Errors
    /// [`DirectoryError::Io`].
    pub fn open(dir: &Path, migrating: bool) -> Result<RecordLog, DirectoryError> {
        let path = dir.join(LOG_FILE);
        let bytes = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => 0,
            Err(e) => return Err(directory::io_at(&path, e)),
        };
        let mut log = RecordLog {
            dir: dir.to_path_buf(),
            file: None,
            bytes,
            base: bytes,
            migrating,
        };
        // A torn last line (a crash mid-append) is ended, so the next line stands alone.
        if bytes > 0 {
            use std::io::{Read as _, Seek as _};
            let mut last = [0u8; 1];
            File::open(&path)
                .and_then(|mut f| {
                    f.seek(std::io::SeekFrom::End(-1))?;
                    f.read_exact(&mut last)
                })
                .map_err(|e| directory::io_at(&path, e))?;
            if last[0] != b'\n' {
                log.append(b"\n")?;
            }
        }
        Ok(log)
    }

    /// Whether the log should be rewritten from the live records now.
    #[must_use]
    pub fn wants_compaction(&self) -> bool {
        self.migrating || (self.bytes > COMPACT_FLOOR && self.bytes > self.base.saturating_mul(3))
    }

    /// Append `puts` and `evicts` (serialised by [`lines`]) and make them durable.
    ///
    /// # Errors
    /// [`DirectoryError::Io`].
    pub fn append(&mut self, lines: &[u8]) -> Result<(), DirectoryError> {
        if lines.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(LOG_FILE);
        if self.file.is_none() {
            let file = File::options()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(|e| directory::io_at(&path, e))?;
            self.file = Some(file);
        }
        if let Some(file) = self.file.as_mut() {
            file.write_all(lines)
                .and_then(|()| file.sync_data())
                .map_err(|e| {
                    // Reopened next time (a partial line is skipped when read).
                    directory::io_at(&path, e)
                })
                .inspect_err(|_| self.file = None)?;
        }
        self.bytes += lines.len() as u64;
        Ok(())
    }

    /// Replace the log with `snapshot` (every live record, from [`lines`]), atomically.
    ///
    /// # Errors
    /// [`DirectoryError::Io`].
    pub fn compact(&mut self, snapshot: &[u8]) -> Result<(), DirectoryError> {
        let path = self.dir.join(LOG_FILE);
        self.file = None;
        directory::atomic_write(&path, snapshot)?;
        self.bytes = snapshot.len() as u64;
        self.base = self.bytes.max(1);
        if self.migrating {
            let old = self.dir.join(INSTANCES_FILE);
            if old.exists() {
                let kept = self.dir.join(format!("{INSTANCES_FILE}.migrated"));
                std::fs::rename(&old, &kept).map_err(|e| directory::io_at(&old, e))?;
            }
            self.migrating = false;
        }
        Ok(())
    }
}

/// Log lines for `puts` then `evicts`.
///
/// # Errors
/// serde_json's error (never for these types).
pub fn lines<'a>(
    puts: impl IntoIterator<Item = &'a Instance>,
    evicts: &[String],
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::new();
    for i in puts {
        serde_json::to_writer(&mut out, &Entry::Put(i))?;
        out.push(b'\n');
    }
    for id in evicts {
        serde_json::to_writer(&mut out, &Entry::<&Instance>::Evict(id.clone()))?;
        out.push(b'\n');
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_last_wins_evicts_and_skips_a_torn_tail() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut log = RecordLog::open(dir.path(), false).unwrap_or_else(|e| panic!("{e}"));
        let mut a = Instance::new("a", 1);
        let b = Instance::new("b", 1);
        let first = lines([&a, &b], &[]).unwrap_or_default();
        log.append(&first).unwrap_or_else(|e| panic!("{e}"));
        a.version = "2.0.0".into();
        let second = lines([&a], &["b".to_string()]).unwrap_or_default();
        log.append(&second).unwrap_or_else(|e| panic!("{e}"));
        log.append(b"{\"put\":{\"machine_id\"")
            .unwrap_or_else(|e| panic!("{e}"));
        let loaded = load(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loaded.skipped, 1);
        assert_eq!(loaded.instances.instances.len(), 1);
        assert_eq!(loaded.instances.instances["a"].version, "2.0.0");
    }
}
