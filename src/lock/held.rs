//! The reboot slot this machine holds across a reboot, recorded on the node: whoever takes a
//! slot for a reboot (`kindling lock reboot`, the agent, the reboot manager) writes
//! [`HELD_SLOT_FILE`] under the node's root *before* the reboot runs, naming the holder, the
//! semaphore (backend, endpoints, group, TLS files, user) and the boot it was taken in. The
//! agent reads it after the next boot's health check and gives the slot back on the backend
//! named there, whoever took it (coreos/bugs#1219: locksmith's `locksmithctl reboot` flows
//! never gave it back). No secret is written: a password comes from the node's settings when
//! the slot is given back.
//!
//! Written atomically (a temporary file in the same directory, fsync, rename, fsync of the
//! directory), so a reboot right after the write finds either no record or the whole one.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{Backend, LockConfig, TlsFiles};

/// Where the record is, relative to the node's root.
pub const HELD_SLOT_FILE: &str = "var/lib/kindling/reboot-slot.json";

/// The most a record may hold (it is a few hundred bytes).
const MAX_BYTES: u64 = 64 * 1024;

/// Why the record could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum HeldSlotError {
    /// Reading, writing or removing the file failed.
    #[error("{}: {source}", .path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not a record this release can read.
    #[error("{}: not a held-slot record: {why}", .path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
}

/// A slot held across a reboot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HeldSlot {
    /// The holder id (the machine id).
    pub holder: String,
    /// Where the semaphore is.
    pub backend: Backend,
    /// etcd endpoints or the FleetLock server's URL.
    pub endpoints: Vec<String>,
    /// The lock group (`""`: locksmith's default semaphore).
    pub group: String,
    /// TLS files of the connection.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Client certificate.
    #[serde(default)]
    pub cert: Option<PathBuf>,
    /// Client key.
    #[serde(default)]
    pub key: Option<PathBuf>,
    /// The etcd user (its password is read from the node's settings, never written here).
    #[serde(default)]
    pub username: Option<String>,
    /// The boot the slot was taken in: it is given back only after another boot.
    pub boot_id: String,
    /// Who took it (`kindling lock reboot`, `kindling agent`, ...), for messages.
    pub taken_by: String,
}

impl HeldSlot {
    /// The record of `holder`'s slot on `config`'s semaphore, taken in boot `boot_id`.
    #[must_use]
    pub fn new(config: &LockConfig, holder: &str, boot_id: &str, taken_by: &str) -> HeldSlot {
        HeldSlot {
            holder: holder.to_string(),
            backend: config.backend,
            endpoints: config.endpoints.clone(),
            group: config.group.clone(),
            ca: config.tls.ca.clone(),
            cert: config.tls.cert.clone(),
            key: config.tls.key.clone(),
            username: config.auth.as_ref().map(|(u, _)| u.clone()),
            boot_id: boot_id.to_string(),
            taken_by: taken_by.to_string(),
        }
    }

    /// The lock configuration to give the slot back with; `password` for the user, when
    /// the node's settings have one.
    #[must_use]
    pub fn config(&self, password: Option<String>) -> LockConfig {
        LockConfig {
            backend: self.backend,
            endpoints: self.endpoints.clone(),
            group: self.group.clone(),
            tls: TlsFiles {
                ca: self.ca.clone(),
                cert: self.cert.clone(),
                key: self.key.clone(),
            },
            auth: self
                .username
                .as_ref()
                .map(|u| (u.clone(), password.unwrap_or_default())),
            lease_ttl: None,
            timeout: Duration::from_secs(10),
        }
    }

    /// Whether the slot was taken in another boot than `boot_id` (the reboot happened).
    #[must_use]
    pub fn rebooted_since(&self, boot_id: &str) -> bool {
        self.boot_id != boot_id
    }

    /// The record under `root`, if there is one.
    ///
    /// # Errors
    /// When it cannot be read or is not a record.
    pub fn read(root: &Path) -> Result<Option<HeldSlot>, HeldSlotError> {
        let path = root.join(HELD_SLOT_FILE);
        let io = |source| HeldSlotError::Io {
            path: path.clone(),
            source,
        };
        let file = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut std::io::Read::take(file, MAX_BYTES + 1), &mut bytes)
            .map_err(io)?;
        if bytes.len() as u64 > MAX_BYTES {
            return Err(HeldSlotError::Malformed {
                path,
                why: format!("larger than {MAX_BYTES} bytes"),
            });
        }
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| HeldSlotError::Malformed {
                path,
                why: e.to_string(),
            })
    }

    /// Write the record under `root`, atomically and durably.
    ///
    /// # Errors
    /// When the directory or the file cannot be written.
    pub fn write(&self, root: &Path) -> Result<(), HeldSlotError> {
        let path = root.join(HELD_SLOT_FILE);
        let io = |source| HeldSlotError::Io {
            path: path.clone(),
            source,
        };
        let dir = path.parent().unwrap_or(root);
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut bytes = serde_json::to_vec_pretty(self).unwrap_or_default();
        bytes.push(b'\n');
        let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(io)?;
        tmp.write_all(&bytes).map_err(io)?;
        tmp.as_file().sync_all().map_err(io)?;
        tmp.persist(&path).map_err(|e| io(e.error))?;
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io)
    }

    /// Remove the record under `root` (the slot was given back); no record is fine.
    ///
    /// # Errors
    /// When it exists and cannot be removed.
    pub fn remove(root: &Path) -> Result<(), HeldSlotError> {
        let path = root.join(HELD_SLOT_FILE);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(source) => return Err(HeldSlotError::Io { path, source }),
        }
        if let Some(dir) = path.parent() {
            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }
}

/// This boot's id, as the kernel gives it under `root` (`proc/sys/kernel/random/boot_id`);
/// empty when it cannot be read (a root without one), which never equals a real boot id.
#[must_use]
pub fn boot_id(root: &Path) -> String {
    std::fs::read_to_string(root.join("proc/sys/kernel/random/boot_id"))
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_read_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(HeldSlot::read(dir.path()).unwrap(), None);
        let config = LockConfig {
            backend: Backend::Etcd3,
            endpoints: vec!["http://127.0.0.1:1".into()],
            group: "web".into(),
            auth: Some(("root".into(), "secret".into())),
            ..LockConfig::default()
        };
        let held = HeldSlot::new(&config, "m1", "boot-1", "kindling lock reboot");
        held.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(HELD_SLOT_FILE)).unwrap();
        assert!(!text.contains("secret"), "{text}");
        let back = HeldSlot::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, held);
        assert!(back.rebooted_since("boot-2") && !back.rebooted_since("boot-1"));
        let again = back.config(Some("pw".into()));
        assert_eq!(again.auth, Some(("root".into(), "pw".into())));
        assert_eq!(
            (again.backend, again.group.as_str()),
            (Backend::Etcd3, "web")
        );
        HeldSlot::remove(dir.path()).unwrap();
        HeldSlot::remove(dir.path()).unwrap();
        assert_eq!(HeldSlot::read(dir.path()).unwrap(), None);
        std::fs::create_dir_all(dir.path().join("var/lib/kindling")).unwrap();
        std::fs::write(dir.path().join(HELD_SLOT_FILE), "{").unwrap();
        assert!(matches!(
            HeldSlot::read(dir.path()),
            Err(HeldSlotError::Malformed { .. })
        ));
    }
}
