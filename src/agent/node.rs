//! Who and where the node is: machine id, boot id, kernel command line, read from the root
//! (on a test root, its own `etc/machine-id`, `proc/sys/kernel/random/boot_id` and
//! `proc/cmdline`, which the simulation writes at each simulated boot).

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

fn read(root: &Root, path: &str) -> Result<String, String> {
    match root.observe(path) {
        Ok(Observed::File { bytes, .. }) => Ok(String::from_utf8_lossy(&bytes).trim().to_string()),
        Ok(_) => Err(format!(
            "{path} is missing in {} (a node has it; a simulated node's root must too)",
            root.path().display()
        )),
        Err(e) => Err(format!("cannot read {path}: {e}")),
    }
}

impl Identity {
    /// Read the identity of a root.
    ///
    /// # Errors
    /// A missing or unreadable file, named.
    pub fn read(root: &Root) -> Result<Identity, String> {
        Ok(Identity {
            machine_id: read(root, "/etc/machine-id")?,
            boot_id: read(root, "/proc/sys/kernel/random/boot_id")?,
            cmdline: read(root, "/proc/cmdline")?,
        })
    }
}
