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
//! Files: `attributes` (bit layout, cgpt's prioritize, the firmware's rule, all pure),
//! `table` (reading/checking/writing both GPT copies), `disk` ([`Disk`], the operations),
//! `cmdline` (the booted slot from `/proc/cmdline`), `find` (the disk behind a PARTUUID under
//! a root), `release` (the version inside a slot), `init` (a simulated node's disk).

mod attributes;
mod cmdline;
mod disk;
mod error;
mod find;
mod init;
mod release;
mod table;

pub use attributes::{BootAttributes, choose_next, prioritize};
pub use cmdline::booted_partuuid;
pub use disk::{Disk, NextBoot};
pub use error::SlotsError;
pub use find::find_disk;
pub use init::{InitOptions, USR_A_PARTUUID, USR_B_PARTUUID, init, parse_size};
pub use release::{Release, parse_key_values, parse_release};
pub use table::{CopyHealth, Health};

/// The coreos-usr (Flatcar "flatcar-usr"/"coreos-rootfs") partition type GUID.
pub const USR_TYPE: uuid::Uuid = uuid::uuid!("5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6");

/// One /usr slot as it is on the disk.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Slot {
    /// The partition number (1-based, as `cgpt -i N` and `/dev/sdaN`).
    pub number: u32,
    /// The partition label (`USR-A`, `USR-B`).
    pub label: String,
    /// The partition's unique GUID, lowercase (what `mount.usr=PARTUUID=` names).
    pub partuuid: String,
    /// Where the slot starts on the disk, in bytes.
    pub first_byte: u64,
    /// The slot's size in bytes.
    pub size_bytes: u64,
    /// 0..=15; 0 never boots.
    pub priority: u8,
    /// Boot attempts left while not successful.
    pub tries: u8,
    /// Whether it booted successfully.
    pub successful: bool,
    /// The `*_RELEASE_VERSION` of the filesystem in the slot, when readable.
    pub version: Option<String>,
}

/// The release file of `slot`'s filesystem on `disk`: `Ok(None)` when the slot holds no
/// readable filesystem or no release file, `Err` when the disk cannot be read.
pub fn read_release(disk: &Disk, slot: &Slot) -> Result<Option<Release>, SlotsError> {
    release::read_region(disk.path(), slot.first_byte, slot.size_bytes)
}
