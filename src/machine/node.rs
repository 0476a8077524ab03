//! Who and where the node is: machine id, boot id, kernel command line, read from the root
//! (on a test root, its own `etc/machine-id`, `proc/sys/kernel/random/boot_id` and
//! `proc/cmdline`, which the simulation writes at each simulated boot).

use super::error::Error;
use crate::root::{Observed, Root};

/// The node's identity for this boot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// `/proc/sys/kernel/random/boot_id`.
    pub boot_id: String,
    /// `/proc/cmdline`.
    pub cmdline: String,
}

fn read(root: &Root, path: &str) -> Result<String, Error> {
    match root.observe(path) {
        Ok(Observed::File { bytes, .. }) => Ok(String::from_utf8_lossy(&bytes).trim().to_string()),
        Ok(_) => Err(Error::Missing {
            path: path.to_string(),
            root: root.path().to_path_buf(),
        }),
        Err(source) => Err(Error::Unreadable {
            path: path.to_string(),
            source,
        }),
    }
}

impl Identity {
    /// Read the identity of a root.
    ///
    /// # Errors
    /// A missing or unreadable file, named.
    pub fn read(root: &Root) -> Result<Identity, Error> {
        Ok(Identity {
            machine_id: read(root, "/etc/machine-id")?,
            boot_id: read(root, "/proc/sys/kernel/random/boot_id")?,
            cmdline: read(root, "/proc/cmdline")?,
        })
    }
}
