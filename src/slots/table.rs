//! Reading and rewriting a disk's GPT through gptman, with the checks cgpt makes first.
//!
//! gptman validates signatures and CRCs but asserts (panics) on some hostile headers, such
//! as an entry size other than 128, and allocates whatever entry count a header claims. So
//! every header is checked here the way cgpt's `CheckHeader`/`CheckEntries` do before gptman
//! sees its entries, and a damaged disk ends in a [`SlotsError`], never a panic.
//!
//! A rewrite keeps both copies consistent at every moment: the copy that was not read from
//! is written first and synced, then the copy that was read from; if the process dies
//! half-way, one copy is always whole (either the old table or the new one), which is what
//! firmware and cgpt fall back to. A damaged copy is rewritten from the good one, as
//! `cgpt repair` (run before every `cgpt add` by flatcar-postinst) would.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use gptman::{GPTHeader, GPTPartitionEntry};

use super::SlotsError;

/// The largest entry count accepted (cgpt accepts 128 only; sgdisk can make more).
const MAX_ENTRIES: u32 = 1024;
/// The only entry size gptman (and cgpt) can parse.
const ENTRY_SIZE: u32 = 128;

/// Which copy of the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Copy {
    /// The header at LBA 1 and its array.
    Primary,
    /// The header at the last LBA and its array.
    Backup,
}

/// The state of one copy of the table, as found when it was read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase", tag = "state", content = "detail")]
pub enum CopyHealth {
    /// Valid and equal to the copy in use.
    Ok,
    /// Unusable or out of date; the next write rewrites it from the good copy.
    Damaged(String),
}

impl std::fmt::Display for CopyHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CopyHealth::Ok => f.write_str("ok"),
            CopyHealth::Damaged(why) => write!(f, "damaged ({why})"),
        }
    }
}

/// Both copies' states.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Health {
    /// The primary copy (LBA 1).
    pub primary: CopyHealth,
    /// The backup copy (last LBA).
    pub backup: CopyHealth,
}

/// A disk's table as read from its good copy.
#[derive(Debug, Clone)]
pub struct Table {
    /// Logical sector size the table was found with (512 or 4096).
    pub sector_size: u64,
    /// The header of the copy in use.
    pub header: GPTHeader,
    /// Which copy that is.
    pub source: Copy,
    /// The entry LBA of a valid backup copy, kept when rewriting it.
    backup_entry_lba: Option<u64>,
    /// Every entry, used or not, in table order (index 0 is partition 1).
    pub entries: Vec<GPTPartitionEntry>,
    /// Both copies' states.
    pub health: Health,
}

enum CopyError {
    /// No "EFI PART" signature: no table here at this sector size.
    Absent,
    /// The table describes a disk larger than this one.
    Truncated(u64),
    /// Present but unusable.
    Bad(String),
}

fn describe(err: &gptman::Error) -> String {
    match err {
        gptman::Error::InvalidChecksum(..) => "header CRC32 mismatch".into(),
        gptman::Error::InvalidPartitionEntryArrayChecksum(..) => {
            "partition entry array CRC32 mismatch".into()
        }
        gptman::Error::InvalidRevision => "unknown header revision".into(),
        gptman::Error::InvalidHeaderSize => "header size is not 92".into(),
        other => other.to_string(),
    }
}

/// Reads and checks one copy. `lba` is where its header must be.
fn read_copy(
    file: &mut File,
    sector_size: u64,
    lba: u64,
    disk_sectors: u64,
) -> Result<(GPTHeader, Vec<GPTPartitionEntry>), CopyError> {
    let mut sector = vec![0u8; usize::try_from(sector_size).unwrap_or(512)];
    file.seek(SeekFrom::Start(lba * sector_size))
        .and_then(|_| file.read_exact(&mut sector))
        .map_err(|_| CopyError::Absent)?;
    if &sector[..8] != b"EFI PART" {
        return Err(CopyError::Absent);
    }
    let header = GPTHeader::read_from(&mut std::io::Cursor::new(&sector[..]))
        .map_err(|e| CopyError::Bad(describe(&e)))?;
    check_header(&header, sector_size, lba, disk_sectors)?;
    let entries = header
        .read_partitions(file, sector_size)
        .map_err(|e| CopyError::Bad(describe(&e)))?;
    check_entries(&header, &entries, sector_size, disk_sectors)?;
    Ok((header, entries))
}

fn array_sectors(header: &GPTHeader, sector_size: u64) -> u64 {
    (u64::from(header.number_of_partition_entries) * u64::from(ENTRY_SIZE)).div_ceil(sector_size)
}

/// cgpt's `CheckHeader`, loosened only where other tools legitimately differ (entry count).
fn check_header(h: &GPTHeader, ss: u64, lba: u64, disk_sectors: u64) -> Result<(), CopyError> {
    let bad = |why: String| Err(CopyError::Bad(why));
    if h.primary_lba != lba {
        return bad(format!(
            "header at LBA {lba} says it is at LBA {}",
            h.primary_lba
        ));
    }
    if h.size_of_partition_entry != ENTRY_SIZE {
        return bad(format!(
            "entry size {} (only {ENTRY_SIZE} is supported)",
            h.size_of_partition_entry
        ));
    }
    if h.number_of_partition_entries == 0 || h.number_of_partition_entries > MAX_ENTRIES {
        return bad(format!(
            "{} partition entries (1 to {MAX_ENTRIES} are supported)",
            h.number_of_partition_entries
        ));
    }
    let array = array_sectors(h, ss);
    if h.first_usable_lba > h.last_usable_lba {
        return bad("first usable LBA is after the last usable LBA".into());
    }
    // A table that reaches past the end of the disk means the disk was cut short.
    // (A backup placed before the end means the disk was grown: still usable, and the
    // backup copy stays where the primary says it is.)
    let needed_sectors = h.last_usable_lba.max(h.backup_lba).saturating_add(1);
    if needed_sectors > disk_sectors {
        return Err(CopyError::Truncated(needed_sectors.saturating_mul(ss)));
    }
    if lba == 1 {
        if h.partition_entry_lba < 2 || h.partition_entry_lba + array > h.first_usable_lba {
            return bad("the primary entry array overlaps the usable area".into());
        }
    } else {
        if h.partition_entry_lba <= h.last_usable_lba || h.partition_entry_lba + array > lba {
            return bad("the backup entry array overlaps the usable area".into());
        }
        if h.first_usable_lba < 2 + array {
            return bad("no room for a primary entry array before the first usable LBA".into());
        }
    }
    Ok(())
}

/// cgpt's `CheckEntries`: every used entry inside the usable area, no overlaps, unique GUIDs.
fn check_entries(
    h: &GPTHeader,
    entries: &[GPTPartitionEntry],
    sector_size: u64,
    disk_sectors: u64,
) -> Result<(), CopyError> {
    let mut used: Vec<(usize, &GPTPartitionEntry)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| e.is_used())
        .collect();
    for (i, e) in &used {
        let n = i + 1;
        if e.ending_lba < e.starting_lba {
            return Err(CopyError::Bad(format!(
                "partition {n} ends before it starts"
            )));
        }
        if e.ending_lba >= disk_sectors {
            return Err(CopyError::Truncated(
                (e.ending_lba + 1).saturating_mul(sector_size),
            ));
        }
        if e.starting_lba < h.first_usable_lba || e.ending_lba > h.last_usable_lba {
            return Err(CopyError::Bad(format!(
                "partition {n} lies outside the usable area"
            )));
        }
    }
    used.sort_by_key(|(_, e)| e.starting_lba);
    for pair in used.windows(2) {
        if pair[1].1.starting_lba <= pair[0].1.ending_lba {
            return Err(CopyError::Bad(format!(
                "partitions {} and {} overlap",
                pair[0].0 + 1,
                pair[1].0 + 1
            )));
        }
    }
    let mut guids: Vec<[u8; 16]> = used.iter().map(|(_, e)| e.unique_partition_guid).collect();
    guids.sort_unstable();
    if guids.windows(2).any(|w| w[0] == w[1]) {
        return Err(CopyError::Bad(
            "two partitions share one unique GUID".into(),
        ));
    }
    Ok(())
}

/// The size of a file or block device in bytes.
pub fn disk_size(file: &mut File, path: &Path) -> Result<u64, SlotsError> {
    file.seek(SeekFrom::End(0))
        .map_err(|e| SlotsError::io("measure", path, e))
}

/// Reads the table, trying 512- then 4096-byte sectors, from the primary copy when it is
/// valid, else from the backup.
pub fn read(file: &mut File, path: &Path) -> Result<Table, SlotsError> {
    let size = disk_size(file, path)?;
    for sector_size in [512u64, 4096] {
        let disk_sectors = size / sector_size;
        if disk_sectors < 3 {
            continue;
        }
        let primary = read_copy(file, sector_size, 1, disk_sectors);
        let backup = read_copy(file, sector_size, disk_sectors - 1, disk_sectors);
        match (primary, backup) {
            (Err(CopyError::Absent), Err(CopyError::Absent)) => continue,
            (Ok((header, entries)), backup) => {
                let (health, backup_entry_lba) = match backup {
                    Ok((b, b_entries)) if same_table(&header, &b, &entries, &b_entries) => {
                        (CopyHealth::Ok, Some(b.partition_entry_lba))
                    }
                    Ok((b, _)) if b.primary_lba == header.backup_lba => (
                        CopyHealth::Damaged("differs from the primary".into()),
                        Some(b.partition_entry_lba),
                    ),
                    Ok(_) => (CopyHealth::Damaged("differs from the primary".into()), None),
                    Err(CopyError::Absent) if header.backup_lba + 1 != disk_sectors => (
                        CopyHealth::Damaged(format!(
                            "not at the end of the disk (the primary places it at LBA {})",
                            header.backup_lba
                        )),
                        None,
                    ),
                    Err(CopyError::Absent) => (CopyHealth::Damaged("missing".into()), None),
                    Err(CopyError::Truncated(_)) => {
                        (CopyHealth::Damaged("larger than the disk".into()), None)
                    }
                    Err(CopyError::Bad(why)) => (CopyHealth::Damaged(why), None),
                };
                return Ok(Table {
                    sector_size,
                    header,
                    source: Copy::Primary,
                    backup_entry_lba,
                    entries,
                    health: Health {
                        primary: CopyHealth::Ok,
                        backup: health,
                    },
                });
            }
            (Err(CopyError::Truncated(needed)), Err(_)) => {
                return Err(SlotsError::Truncated {
                    path: path.to_path_buf(),
                    size,
                    needed,
                });
            }
            (primary, Ok((header, entries))) => {
                let why = match primary {
                    Err(CopyError::Absent) => "missing".to_string(),
                    Err(CopyError::Truncated(_)) => "larger than the disk".to_string(),
                    Err(CopyError::Bad(why)) => why,
                    Ok(_) => String::new(),
                };
                return Ok(Table {
                    sector_size,
                    backup_entry_lba: Some(header.partition_entry_lba),
                    header,
                    source: Copy::Backup,
                    entries,
                    health: Health {
                        primary: CopyHealth::Damaged(why),
                        backup: CopyHealth::Ok,
                    },
                });
            }
            (Err(p), Err(b)) => {
                let words = |e: CopyError| match e {
                    CopyError::Absent => "missing".to_string(),
                    CopyError::Truncated(_) => "larger than the disk".to_string(),
                    CopyError::Bad(why) => why,
                };
                return Err(SlotsError::Damaged {
                    path: path.to_path_buf(),
                    primary: words(p),
                    backup: words(b),
                });
            }
        }
    }
    Err(SlotsError::NotGpt {
        path: path.to_path_buf(),
        detail: format!(
            "no \"EFI PART\" header at the start or the end of its {size} bytes, with \
             512- or 4096-byte sectors"
        ),
    })
}

fn same_table(
    p: &GPTHeader,
    b: &GPTHeader,
    p_entries: &[GPTPartitionEntry],
    b_entries: &[GPTPartitionEntry],
) -> bool {
    p.disk_guid == b.disk_guid
        && p.first_usable_lba == b.first_usable_lba
        && p.last_usable_lba == b.last_usable_lba
        && p.number_of_partition_entries == b.number_of_partition_entries
        && p.backup_lba == b.primary_lba
        && b.backup_lba == p.primary_lba
        && p_entries == b_entries
}

/// Writes `table.entries` to both copies: the copy not read from first, then the one read
/// from, syncing after each, so a crash leaves one whole copy (old or new) at every moment.
pub fn write(file: &mut File, path: &Path, table: &Table) -> Result<(), SlotsError> {
    let ss = table.sector_size;
    let h = &table.header;
    let array = array_sectors(h, ss);
    let (mut primary, mut backup) = match table.source {
        Copy::Primary => {
            let mut backup = h.clone();
            backup.primary_lba = h.backup_lba;
            backup.backup_lba = h.primary_lba;
            backup.partition_entry_lba = table
                .backup_entry_lba
                .unwrap_or_else(|| h.backup_lba.saturating_sub(array));
            (h.clone(), backup)
        }
        Copy::Backup => {
            let mut primary = h.clone();
            primary.primary_lba = 1;
            primary.backup_lba = h.primary_lba;
            primary.partition_entry_lba = 2;
            (primary, h.clone())
        }
    };
    let order: [&mut GPTHeader; 2] = match table.source {
        Copy::Primary => [&mut backup, &mut primary],
        Copy::Backup => [&mut primary, &mut backup],
    };
    for header in order {
        header
            .write_into(file, ss, &table.entries)
            .map_err(|e| match e {
                gptman::Error::Io(source) => SlotsError::io("write", path, source),
                other => SlotsError::Table {
                    path: path.to_path_buf(),
                    detail: other.to_string(),
                },
            })?;
        file.sync_all()
            .map_err(|e| SlotsError::io("sync", path, e))?;
    }
    Ok(())
}
