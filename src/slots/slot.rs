//! The vocabulary every part of the slots module shares: what a /usr slot is ([`Slot`], as
//! read from the partition table) and the partition type that marks one ([`USR_TYPE`]).
//! Plain data: no I/O here.

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
