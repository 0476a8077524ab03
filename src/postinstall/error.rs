//! What can go wrong installing the kernel or running `/postinst`, each with what it means
//! to update_engine (the agent maps them to its error codes).

use std::path::PathBuf;

/// A failure of the kernel install or of the postinst.
#[derive(Debug, thiserror::Error)]
pub enum PostinstallError {
    /// The target slot is neither partition 3 nor 4 (nor labelled USR-A/USR-B).
    #[error(
        "partition {number} ({label}) is neither USR-A (partition 3) nor USR-B (partition 4): \
         update_engine has no kernel path for it"
    )]
    NoKernelPath {
        /// The partition number.
        number: u32,
        /// The partition label.
        label: String,
    },
    /// The kernel file is not what the payload's `KERNEL` procedure describes.
    #[error(
        "the kernel in {path} is {size} bytes with SHA-256 {actual}; the payload's KERNEL \
         procedure says {expected_size} bytes with SHA-256 {expected}"
    )]
    KernelMismatch {
        /// The file checked.
        path: PathBuf,
        /// Its size.
        size: u64,
        /// Its SHA-256, hex.
        actual: String,
        /// The size the payload announced.
        expected_size: u64,
        /// The SHA-256 the payload announced, hex.
        expected: String,
    },
    /// A file operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On which path.
        path: PathBuf,
        /// Why it failed.
        source: std::io::Error,
    },
    /// The slot's filesystem could not be read (simulated node).
    #[error("the new slot's filesystem cannot be read: {0}")]
    SlotUnreadable(String),
    /// The slot has no `/postinst` (update_engine fails to execute it, error 5).
    #[error("the new slot has no /postinst to run")]
    NoPostinst,
    /// The slot could not be mounted (real node).
    #[error("cannot mount {device} read-only on {mountpoint} (tried ext2, ext3, btrfs): {source}")]
    Mount {
        /// The install device.
        device: PathBuf,
        /// The temporary mount point.
        mountpoint: PathBuf,
        /// The last mount error.
        source: std::io::Error,
    },
    /// `/postinst` could not be started.
    #[error("cannot run {command}: {source}")]
    Spawn {
        /// The command line.
        command: String,
        /// Why.
        source: std::io::Error,
    },
    /// `/postinst` exited unsuccessfully (or was killed by a signal).
    #[error("{command} failed ({status}){}", shown(output))]
    Failed {
        /// The command line.
        command: String,
        /// `exit status N` or `killed by signal N`.
        status: String,
        /// 3: update_engine's "booted from firmware B" (error 19).
        firmware_b: bool,
        /// Its stdout and stderr, interleaved (the end, when long).
        output: String,
    },
    /// `/postinst` ran past its time and was killed with its process group.
    #[error(
        "{command} did not finish within {seconds} s and was killed{}",
        shown(output)
    )]
    TimedOut {
        /// The command line.
        command: String,
        /// The limit.
        seconds: u64,
        /// Its output so far.
        output: String,
    },
}

impl PostinstallError {
    /// Whether the kernel failed its check (update_engine's kNewKernelVerificationError).
    #[must_use]
    pub fn is_kernel_verification(&self) -> bool {
        matches!(self, PostinstallError::KernelMismatch { .. })
    }

    /// Whether the postinst asked for the other firmware (exit status 3, update_engine's
    /// kActionCodePostinstallBootedFromFirmwareB).
    #[must_use]
    pub fn is_firmware_b(&self) -> bool {
        matches!(
            self,
            PostinstallError::Failed {
                firmware_b: true,
                ..
            }
        )
    }
}

/// The captured output as a suffix of the message: nothing when empty.
fn shown(output: &str) -> String {
    let trimmed = output.trim_end();
    if trimmed.is_empty() {
        String::from("; it printed nothing")
    } else {
        format!("; its output:\n{trimmed}")
    }
}
