//! The A/B `/usr` slots on a GPT disk: find USR-A/USR-B (the coreos-usr partitions), read and
//! set their priority, tries and successful attributes exactly as cgpt does, and play the
//! firmware's choice (GRUB's gptprio.next) so a simulated node can "boot".
//!
//! It owns every write to a disk's partition table, and it writes only the attribute bits of
//! coreos-usr entries: primary and backup tables are rewritten together with valid CRCs
//! (through gptman), one whole copy surviving any crash, and no other partition's entry or
//! data ever changes. It never writes a slot's contents (the agent does, after
//! [`Disk::make_unbootable`]) and never mounts anything: a slot's release file is read
//! through a window limited to that slot. A damaged or hostile disk gives a [`SlotsError`],
//! never a panic.
//!
//! Files: `slot` ([`Slot`] and [`USR_TYPE`], the vocabulary the others share), `error`
//! ([`SlotsError`], [`SizeError`]), `attributes` (bit layout, cgpt's prioritize, the
//! firmware's rule, all pure), `table` (reading/checking/writing both GPT copies), `disk`
//! ([`Disk`], the operations), `cmdline` (the booted slot from a kernel command line), `find`
//! (the booted slot under a root, the disk behind a PARTUUID, opening either), `release` (the
//! version inside a slot), `init` (a simulated node's disk). This file only hands their
//! names on.

mod attributes;
mod cmdline;
mod disk;
mod error;
mod find;
mod init;
mod release;
mod slot;
mod table;

pub use attributes::{BootAttributes, choose_next, prioritize};
pub use cmdline::booted_partuuid;
pub use disk::{Disk, NextBoot};
pub use error::{SizeError, SlotsError};
pub use find::{booted_under, find_disk, open_disk};
pub use init::{InitOptions, USR_A_PARTUUID, USR_B_PARTUUID, init, parse_size};
pub use release::{Region, Release, parse_key_values, parse_release};
pub use slot::{Slot, USR_TYPE};
pub use table::{CopyHealth, Health};

/// The release file of `slot`'s filesystem on `disk`: `Ok(None)` when the slot holds no
/// readable filesystem or no release file, `Err` when the disk cannot be read.
pub fn read_release(disk: &Disk, slot: &Slot) -> Result<Option<Release>, SlotsError> {
    release::read_region(disk.path(), slot.first_byte, slot.size_bytes)
}
