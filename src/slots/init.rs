//! `kindling slots init`: a simulated node's disk. The layout follows CoreOS/Flatcar's
//! `disk_layout.json` (partition numbers, labels, type GUIDs, and the well-known USR-A/USR-B
//! PARTUUIDs every image ships with), scaled down so test images stay small. USR-A starts as
//! the good slot (priority 1, tries 0, successful), USR-B as empty (all 0), exactly as a
//! freshly installed node.
//!
//! The image is built in a temporary file beside the target and renamed into place, so a
//! failed `init` leaves nothing behind.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use gptman::{GPT, GPTPartitionEntry};

use super::attributes::BootAttributes;
use super::error::{SizeError, SlotsError};
use super::slot::USR_TYPE;

const SECTOR: u64 = 512;
const MIB: u64 = 1024 * 1024;

/// The well-known PARTUUID of USR-A on every CoreOS/Flatcar image.
pub const USR_A_PARTUUID: &str = "7130c94a-213a-4e5a-8e26-6cce9662f132";
/// The well-known PARTUUID of USR-B on every CoreOS/Flatcar image.
pub const USR_B_PARTUUID: &str = "e03dd35c-7c2d-4a47-b3fe-27f15780a57c";

/// What `init` makes.
#[derive(Debug, Clone, Default)]
pub struct InitOptions {
    /// Size of each /usr slot in bytes (rounded up to whole MiB).
    pub slot_size: u64,
    /// A filesystem image copied into USR-A.
    pub usr_a: Option<PathBuf>,
    /// A filesystem image copied into USR-B.
    pub usr_b: Option<PathBuf>,
    /// Replace an existing file.
    pub force: bool,
}

/// One partition of the layout.
struct Part {
    number: u32,
    label: &'static str,
    type_guid: &'static str,
    size: u64,
    partuuid: Option<&'static str>,
    attrs: BootAttributes,
    image: Option<PathBuf>,
}

const NONE: BootAttributes = BootAttributes {
    priority: 0,
    tries: 0,
    successful: false,
};

/// A freshly installed node's good slot.
const GOOD: BootAttributes = BootAttributes {
    priority: 1,
    tries: 0,
    successful: true,
};

/// The coreos-usr type GUID, as the layout spells it.
const USR_TYPE_TEXT: &str = "5dfbf5f4-2848-4bac-aa5e-0d9a20b745a6";

/// Parses a size such as `64M`, `1G`, `512K` or `1048576` (binary units).
pub fn parse_size(text: &str) -> Result<u64, SizeError> {
    let text = text.trim();
    let (digits, unit) = match text.find(|c: char| !c.is_ascii_digit()) {
        Some(at) => text.split_at(at),
        None => (text, ""),
    };
    let number: u64 = digits.parse().map_err(|_| SizeError::NotANumber {
        text: text.to_string(),
    })?;
    let factor: u64 = match unit.to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1024,
        "M" | "MB" | "MIB" => MIB,
        "G" | "GB" | "GIB" => 1024 * MIB,
        other => {
            return Err(SizeError::UnknownUnit {
                unit: other.to_string(),
                text: text.to_string(),
            });
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| SizeError::TooLarge {
            text: text.to_string(),
        })
}

/// Creates a CoreOS-like disk at `path`; returns the USR-A and USR-B PARTUUIDs.
pub fn init(path: &Path, options: &InitOptions) -> Result<(String, String), SlotsError> {
    check_options(path, options)?;
    let parts = layout(options.slot_size.div_ceil(MIB) * MIB, options);
    check_images(&parts)?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let mut temp = tempfile::Builder::new()
        .prefix(".kindling-disk-")
        .tempfile_in(&dir)
        .map_err(|e| SlotsError::io("create a temporary file in", &dir, e))?;
    write_disk(temp.as_file_mut(), path, &parts)?;
    temp.persist(path)
        .map_err(|e| SlotsError::io("rename into", path, e.error))?;
    // The rename is durable once the directory is synced.
    if let Ok(d) = File::open(&dir) {
        let _ = d.sync_all();
    }
    Ok((USR_A_PARTUUID.to_string(), USR_B_PARTUUID.to_string()))
}

fn init_error(path: &Path, detail: &str) -> SlotsError {
    SlotsError::Init {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    }
}

/// The slot size is sane and `path` may be written.
fn check_options(path: &Path, options: &InitOptions) -> Result<(), SlotsError> {
    if options.slot_size < MIB {
        return Err(init_error(path, "--slot-size must be at least 1M"));
    }
    if options.slot_size > 64 * 1024 * MIB {
        return Err(init_error(
            path,
            "--slot-size above 64G is not a simulated disk",
        ));
    }
    if path.exists() && !options.force {
        return Err(init_error(
            path,
            "the file exists; remove it or pass --force to replace it",
        ));
    }
    Ok(())
}

/// The partitions of `disk_layout.json`, with /usr slots of `slot` bytes.
fn layout(slot: u64, options: &InitOptions) -> [Part; 7] {
    let part = |number, label, type_guid, size| Part {
        number,
        label,
        type_guid,
        size,
        partuuid: None,
        attrs: NONE,
        image: None,
    };
    [
        part(
            1,
            "EFI-SYSTEM",
            "c12a7328-f81f-11d2-ba4b-00a0c93ec93b",
            8 * MIB,
        ),
        part(2, "BIOS-BOOT", "21686148-6449-6e6f-744e-656564454649", MIB),
        Part {
            partuuid: Some(USR_A_PARTUUID),
            attrs: GOOD,
            image: options.usr_a.clone(),
            ..part(3, "USR-A", USR_TYPE_TEXT, slot)
        },
        Part {
            partuuid: Some(USR_B_PARTUUID),
            image: options.usr_b.clone(),
            ..part(4, "USR-B", USR_TYPE_TEXT, slot)
        },
        part(6, "OEM", "0fc63daf-8483-4772-8e79-3d69d8477de4", 4 * MIB),
        part(7, "OEM-CONFIG", "c95dc21a-df0e-4340-8d7b-26cbfa9a03e0", MIB),
        part(9, "ROOT", "3884dd41-8582-4404-b9a8-e9b84f2df50e", 16 * MIB),
    ]
}

/// Every image fits its slot: checked before anything is written.
fn check_images(parts: &[Part]) -> Result<(), SlotsError> {
    for part in parts {
        if let Some(image) = &part.image {
            let size = std::fs::metadata(image)
                .map_err(|e| SlotsError::io("read", image, e))?
                .len();
            if size > part.size {
                return Err(SlotsError::ImageTooLarge {
                    image: image.clone(),
                    size,
                    label: part.label.to_string(),
                    capacity: part.size,
                });
            }
        }
    }
    Ok(())
}

/// Lays out `parts` in `file` (the temporary file that becomes `path`): both GPT copies,
/// the images, the protective MBR, synced.
fn write_disk(file: &mut File, path: &Path, parts: &[Part]) -> Result<(), SlotsError> {
    // 1 MiB before the first partition (as sgdisk aligns) and 1 MiB after the last one for
    // the backup table.
    let total = MIB + parts.iter().map(|p| p.size).sum::<u64>() + MIB;
    let io = |e| SlotsError::io("write", path, e);
    file.set_len(total).map_err(io)?;
    let mut gpt = GPT::new_from(file, SECTOR, *uuid::Uuid::new_v4().as_bytes())
        .map_err(|e| init_error(path, &format!("cannot lay out the table: {e}")))?;
    let mut start = MIB / SECTOR;
    for part in parts {
        let sectors = part.size / SECTOR;
        gpt[part.number] = entry(part, start, sectors);
        if let Some(image) = &part.image {
            let mut source = File::open(image).map_err(|e| SlotsError::io("open", image, e))?;
            file.seek(SeekFrom::Start(start * SECTOR)).map_err(io)?;
            std::io::copy(&mut source, file).map_err(|e| SlotsError::io("copy", image, e))?;
        }
        start += sectors;
    }
    gpt.write_into(file)
        .map_err(|e| init_error(path, &format!("cannot write the table: {e}")))?;
    GPT::write_protective_mbr_into(file, SECTOR)
        .map_err(|e| init_error(path, &format!("cannot write the protective MBR: {e}")))?;
    file.flush().map_err(io)?;
    file.sync_all().map_err(io)
}

/// The table entry of `part`, `sectors` long from LBA `start`.
fn entry(part: &Part, start: u64, sectors: u64) -> GPTPartitionEntry {
    let unique = match part.partuuid {
        Some(text) => uuid::Uuid::try_parse(text).unwrap_or_else(|_| uuid::Uuid::new_v4()),
        None => uuid::Uuid::new_v4(),
    };
    let type_guid = uuid::Uuid::try_parse(part.type_guid).unwrap_or(USR_TYPE);
    GPTPartitionEntry {
        partition_type_guid: type_guid.to_bytes_le(),
        unique_partition_guid: unique.to_bytes_le(),
        starting_lba: start,
        ending_lba: start + sectors - 1,
        attribute_bits: part.attrs.apply_to(0),
        partition_name: part.label.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("64M"), Ok(64 * 1024 * 1024));
        assert_eq!(parse_size("1g"), Ok(1024 * 1024 * 1024));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("M").is_err());
        assert!(parse_size("12X").is_err());
        assert!(parse_size("99999999999999G").is_err());
    }
}
