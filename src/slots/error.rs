//! The one error type of the slots module. Every message says what is wrong, where, and what
//! to do about it, because operators meet these on a node that may not boot.

use std::path::PathBuf;

/// What can go wrong reading or changing the A/B slots.
#[derive(Debug, thiserror::Error)]
pub enum SlotsError {
    /// Reading or writing the disk (or a file beside it) failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done ("read", "write", "open", ...).
        action: &'static str,
        /// The file or device.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Neither the primary nor the backup GPT header is there.
    #[error(
        "{} has no GPT partition table ({detail}); check that this is the node's disk, or \
         create a simulated one with `kindling slots init`",
        path.display()
    )]
    NotGpt {
        /// The disk.
        path: PathBuf,
        /// What was looked at.
        detail: String,
    },
    /// The disk is shorter than its own partition table says.
    #[error(
        "{} is {size} bytes but its partition table describes a disk of at least {needed} \
         bytes; the image was truncated or copied incompletely: restore it from a full copy",
        path.display()
    )]
    Truncated {
        /// The disk.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The size its table needs.
        needed: u64,
    },
    /// Both copies of the table are damaged.
    #[error(
        "both GPT tables of {} are damaged (primary: {primary}; backup: {backup}); nothing was \
         changed: repair the disk from a backup (`cgpt show -v` shows the details)",
        path.display()
    )]
    Damaged {
        /// The disk.
        path: PathBuf,
        /// What is wrong with the primary copy.
        primary: String,
        /// What is wrong with the backup copy.
        backup: String,
    },
    /// The disk has no coreos-usr partitions at all.
    #[error(
        "{} has no /usr slots: no partition has the coreos-usr type \
         5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6 (USR-A/USR-B); is this a CoreOS/Flatcar disk?",
        path.display()
    )]
    NoUsrSlots {
        /// The disk.
        path: PathBuf,
    },
    /// The partuuid is not one of the disk's /usr slots.
    #[error(
        "{partuuid} is not a /usr slot of {}; its slots are: {known}",
        path.display()
    )]
    UnknownSlot {
        /// The disk.
        path: PathBuf,
        /// The partuuid asked for.
        partuuid: String,
        /// The disk's slots, for the message.
        known: String,
    },
    /// The passive slot cannot be told apart.
    #[error("{} has no single passive slot beside {booted}: {detail}", path.display())]
    NoPassive {
        /// The disk.
        path: PathBuf,
        /// The booted slot.
        booted: String,
        /// Why.
        detail: String,
    },
    /// The firmware would find nothing to boot.
    #[error(
        "nothing on {} is bootable: every /usr slot has priority 0 or is neither successful \
         nor has tries left ({slots}); mark a known-good slot with `kindling slots set-good`",
        path.display()
    )]
    NothingBootable {
        /// The disk.
        path: PathBuf,
        /// The slots' attributes, for the message.
        slots: String,
    },
    /// The kernel command line names no booted /usr partition.
    #[error(
        "{} names no booted /usr partition (no mount.usr=PARTUUID=... or usr=PARTUUID=...); \
         {remedy}",
        path.display()
    )]
    NoBootedSlot {
        /// The command line file (`ROOT/proc/cmdline`).
        path: PathBuf,
        /// What the caller can pass instead, in terms of the options it has.
        remedy: &'static str,
    },
    /// The disk holding a partuuid could not be found under a root.
    #[error("cannot find the disk holding partition {partuuid} under {}: {detail}", root.display())]
    DiskNotFound {
        /// The root directory searched.
        root: PathBuf,
        /// The partuuid.
        partuuid: String,
        /// What was tried.
        detail: String,
    },
    /// A filesystem image does not fit its slot.
    #[error(
        "{} is {size} bytes but slot {label} holds only {capacity} bytes; use a larger \
         --slot-size or a smaller image",
        image.display()
    )]
    ImageTooLarge {
        /// The image.
        image: PathBuf,
        /// Its size.
        size: u64,
        /// The slot label.
        label: String,
        /// The slot size.
        capacity: u64,
    },
    /// The arguments of `init` cannot make a disk.
    #[error("cannot create {}: {detail}", path.display())]
    Init {
        /// The disk to create.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// The GPT library refused a table (a bug or an impossible layout).
    #[error("GPT table of {} could not be handled: {detail}", path.display())]
    Table {
        /// The disk.
        path: PathBuf,
        /// The library's words.
        detail: String,
    },
}

/// A size argument (`--slot-size`) that is not a size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// No digits before the unit.
    #[error("{text:?} is not a size; write it like 64M, 1G or 512K")]
    NotANumber {
        /// The argument.
        text: String,
    },
    /// A unit other than K, M or G (and their spellings).
    #[error("unknown size unit {unit:?} in {text:?}; use K, M or G")]
    UnknownUnit {
        /// The unit written.
        unit: String,
        /// The argument.
        text: String,
    },
    /// More bytes than a u64 holds.
    #[error("{text:?} is too large")]
    TooLarge {
        /// The argument.
        text: String,
    },
}

impl SlotsError {
    pub(crate) fn io(action: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        SlotsError::Io {
            action,
            path: path.to_path_buf(),
            source,
        }
    }
}
