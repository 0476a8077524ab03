//! [`Disk`]: one disk image or block device and the operations on its /usr slots. Every
//! operation opens the disk, takes an advisory lock (shared to read, exclusive to change),
//! reads the table fresh, and for a change writes both copies before returning, so two
//! processes (the agent and an operator) never undo each other's writes.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use super::attributes::{self, BootAttributes};
use super::error::SlotsError;
use super::slot::{Slot, USR_TYPE};
use super::table::{self, Health, Table};

/// A disk holding A/B /usr slots.
#[derive(Debug, Clone)]
pub struct Disk {
    path: PathBuf,
}

/// A slot and whether `next_boot` used one of its tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextBoot {
    /// The chosen slot, with its attributes as written.
    pub slot: Slot,
    /// Whether a try was used (tries went down by one and the table was written).
    pub used_try: bool,
}

fn partuuid_string(raw: &[u8; 16]) -> String {
    uuid::Uuid::from_bytes_le(*raw).hyphenated().to_string()
}

fn is_usr(entry: &gptman::GPTPartitionEntry) -> bool {
    entry.is_used() && entry.partition_type_guid == USR_TYPE.to_bytes_le()
}

impl Disk {
    /// Opens a disk image or block device and checks that it has a readable GPT (the
    /// primary copy, or the backup when the primary is damaged).
    pub fn open(path: &Path) -> Result<Disk, SlotsError> {
        let disk = Disk {
            path: path.to_path_buf(),
        };
        disk.read_locked()?;
        Ok(disk)
    }

    /// The disk's path.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn open_file(&self, write: bool) -> Result<File, SlotsError> {
        if self.path.is_dir() {
            return Err(SlotsError::io(
                "open",
                &self.path,
                std::io::Error::other("it is a directory, not a disk image or block device"),
            ));
        }
        let file = OpenOptions::new()
            .read(true)
            .write(write)
            .open(&self.path)
            .map_err(|e| SlotsError::io("open", &self.path, e))?;
        let locked = if write {
            file.lock()
        } else {
            file.lock_shared()
        };
        locked.map_err(|e| SlotsError::io("lock", &self.path, e))?;
        Ok(file)
    }

    fn read_locked(&self) -> Result<Table, SlotsError> {
        let mut file = self.open_file(false)?;
        table::read(&mut file, &self.path)
    }

    /// Whether the primary and backup tables are valid (a damaged one is repaired by the
    /// next change).
    pub fn health(&self) -> Result<Health, SlotsError> {
        Ok(self.read_locked()?.health)
    }

    /// `cgpt repair`: when one copy of the table is damaged (a write cut short by a crash
    /// leaves at most one such copy), rewrite both from the whole one. `Ok(true)` when it did.
    pub fn repair(&self) -> Result<bool, SlotsError> {
        let mut file = self.open_file(true)?;
        let table = table::read(&mut file, &self.path)?;
        let whole = |c: &table::CopyHealth| matches!(c, table::CopyHealth::Ok);
        if whole(&table.health.primary) && whole(&table.health.backup) {
            return Ok(false);
        }
        table::write(&mut file, &self.path, &table)?;
        Ok(true)
    }

    /// Whether any partition (of any type) has this PARTUUID.
    pub fn has_partuuid(&self, partuuid: &str) -> Result<bool, SlotsError> {
        let wanted = partuuid.to_ascii_lowercase();
        Ok(self
            .read_locked()?
            .entries
            .iter()
            .any(|e| e.is_used() && partuuid_string(&e.unique_partition_guid) == wanted))
    }

    fn slot_of(&self, table: &Table, index: usize, with_version: bool) -> Slot {
        let entry = &table.entries[index];
        let attrs = BootAttributes::from_bits(entry.attribute_bits);
        let first_byte = entry.starting_lba * table.sector_size;
        let size_bytes = (entry.ending_lba - entry.starting_lba + 1) * table.sector_size;
        let version = if with_version {
            super::release::read_region(&self.path, first_byte, size_bytes)
                .ok()
                .flatten()
                .map(|r| r.version)
        } else {
            None
        };
        Slot {
            number: u32::try_from(index + 1).unwrap_or(u32::MAX),
            label: entry.partition_name.as_str().to_string(),
            partuuid: partuuid_string(&entry.unique_partition_guid),
            first_byte,
            size_bytes,
            priority: attrs.priority,
            tries: attrs.tries,
            successful: attrs.successful,
            version,
        }
    }

    fn usr_indices(&self, table: &Table) -> Result<Vec<usize>, SlotsError> {
        let found: Vec<usize> = table
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| is_usr(e))
            .map(|(i, _)| i)
            .collect();
        if found.is_empty() {
            return Err(SlotsError::NoUsrSlots {
                path: self.path.clone(),
            });
        }
        Ok(found)
    }

    fn slots_of(&self, table: &Table, with_version: bool) -> Result<Vec<Slot>, SlotsError> {
        Ok(self
            .usr_indices(table)?
            .into_iter()
            .map(|i| self.slot_of(table, i, with_version))
            .collect())
    }

    /// Every coreos-usr partition in table order, with its attributes and the version its
    /// filesystem carries.
    pub fn usr_slots(&self) -> Result<Vec<Slot>, SlotsError> {
        let table = self.read_locked()?;
        self.slots_of(&table, true)
    }

    fn index_of(&self, table: &Table, partuuid: &str) -> Result<usize, SlotsError> {
        let wanted = partuuid.trim().to_ascii_lowercase();
        let indices = self.usr_indices(table)?;
        indices
            .iter()
            .copied()
            .find(|&i| partuuid_string(&table.entries[i].unique_partition_guid) == wanted)
            .ok_or_else(|| SlotsError::UnknownSlot {
                path: self.path.clone(),
                partuuid: wanted.clone(),
                known: indices
                    .iter()
                    .map(|&i| {
                        let e = &table.entries[i];
                        format!(
                            "{} {}",
                            e.partition_name.as_str(),
                            partuuid_string(&e.unique_partition_guid)
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The /usr slot with this PARTUUID (any case).
    pub fn slot_by_partuuid(&self, partuuid: &str) -> Result<Slot, SlotsError> {
        let table = self.read_locked()?;
        let index = self.index_of(&table, partuuid)?;
        Ok(self.slot_of(&table, index, true))
    }

    /// The slot an update should be written to while `booted_partuuid` runs: the only
    /// other /usr slot, or, on a disk with more than two, the USR-A/USR-B partner by label.
    pub fn passive_of(&self, booted_partuuid: &str) -> Result<Slot, SlotsError> {
        let table = self.read_locked()?;
        let booted = self.index_of(&table, booted_partuuid)?;
        let others: Vec<usize> = self
            .usr_indices(&table)?
            .into_iter()
            .filter(|&i| i != booted)
            .collect();
        let no_passive = |detail: String| SlotsError::NoPassive {
            path: self.path.clone(),
            booted: booted_partuuid.to_ascii_lowercase(),
            detail,
        };
        match others.as_slice() {
            [] => Err(no_passive(
                "it is the only coreos-usr partition; an A/B disk needs two".into(),
            )),
            [one] => Ok(self.slot_of(&table, *one, true)),
            many => {
                let partner = match table.entries[booted].partition_name.as_str() {
                    "USR-A" => "USR-B",
                    "USR-B" => "USR-A",
                    other => {
                        return Err(no_passive(format!(
                            "{} coreos-usr partitions and the booted one is labelled {other:?}, \
                             not USR-A or USR-B",
                            many.len() + 1
                        )));
                    }
                };
                let matching: Vec<usize> = many
                    .iter()
                    .copied()
                    .filter(|&i| table.entries[i].partition_name.as_str() == partner)
                    .collect();
                match matching.as_slice() {
                    [one] => Ok(self.slot_of(&table, *one, true)),
                    _ => Err(no_passive(format!(
                        "{} coreos-usr partitions and not exactly one labelled {partner}",
                        many.len() + 1
                    ))),
                }
            }
        }
    }

    /// Reads the table under an exclusive lock, lets `change` edit the entries, and writes
    /// both copies. Returns the slot at `index` after the change.
    fn change(
        &self,
        partuuid: &str,
        change: impl FnOnce(&mut Table, usize, &[usize]),
    ) -> Result<Slot, SlotsError> {
        let mut file = self.open_file(true)?;
        let mut table = table::read(&mut file, &self.path)?;
        let index = self.index_of(&table, partuuid)?;
        let usr = self.usr_indices(&table)?;
        change(&mut table, index, &usr);
        table::write(&mut file, &self.path, &table)?;
        drop(file);
        Ok(self.slot_of(&table, index, true))
    }

    fn set(table: &mut Table, index: usize, attrs: BootAttributes) {
        let entry = &mut table.entries[index];
        entry.attribute_bits = attrs.apply_to(entry.attribute_bits);
    }

    fn attrs(table: &Table, index: usize) -> BootAttributes {
        BootAttributes::from_bits(table.entries[index].attribute_bits)
    }

    /// `cgpt prioritize -i N` over the /usr partitions.
    fn prioritize(table: &mut Table, index: usize, usr: &[usize]) {
        let parts: Vec<(u32, u8)> = usr
            .iter()
            .map(|&i| (i as u32, Self::attrs(table, i).priority))
            .collect();
        for (i, priority) in attributes::prioritize(&parts, Some(index as u32)) {
            let i = i as usize;
            let attrs = BootAttributes {
                priority,
                ..Self::attrs(table, i)
            };
            Self::set(table, i, attrs);
        }
    }

    /// Priority 0, tries 0, not successful: the firmware will never choose this slot. Done
    /// before an update is written into it, so a half-written slot can never boot.
    pub fn make_unbootable(&self, partuuid: &str) -> Result<Slot, SlotsError> {
        self.change(partuuid, |table, index, _| {
            Self::set(
                table,
                index,
                BootAttributes {
                    priority: 0,
                    tries: 0,
                    successful: false,
                },
            );
        })
    }

    /// `cgpt add -S0 -T1` then `cgpt prioritize -i N` (flatcar-postinst): one boot attempt,
    /// above every other slot.
    pub fn prioritize_for_trial(&self, partuuid: &str) -> Result<Slot, SlotsError> {
        self.set_and_prioritize(partuuid, 1, false)
    }

    /// `cgpt add -S1 -T0` then `cgpt prioritize -i N` (coreos-setgoodroot): the slot booted
    /// well, stays at the top and needs no tries.
    pub fn mark_good(&self, partuuid: &str) -> Result<Slot, SlotsError> {
        self.set_and_prioritize(partuuid, 0, true)
    }

    /// `cgpt add -T<tries> -S<successful>` then `cgpt prioritize -i N`.
    fn set_and_prioritize(
        &self,
        partuuid: &str,
        tries: u8,
        successful: bool,
    ) -> Result<Slot, SlotsError> {
        self.change(partuuid, |table, index, usr| {
            let attrs = BootAttributes {
                tries,
                successful,
                ..Self::attrs(table, index)
            };
            Self::set(table, index, attrs);
            Self::prioritize(table, index, usr);
        })
    }

    /// What the firmware would boot now, without using a try.
    pub fn would_boot(&self) -> Result<Option<Slot>, SlotsError> {
        let table = self.read_locked()?;
        let usr = self.usr_indices(&table)?;
        Ok(Self::choose(&table, &usr).map(|i| self.slot_of(&table, i, true)))
    }

    fn choose(table: &Table, usr: &[usize]) -> Option<usize> {
        let parts: Vec<(u32, BootAttributes)> = usr
            .iter()
            .map(|&i| (i as u32, Self::attrs(table, i)))
            .collect();
        attributes::choose_next(&parts).map(|i| i as usize)
    }

    /// Plays the firmware (GRUB `gptprio.next`): chooses the highest-priority /usr slot that
    /// is successful or has tries left, uses one of its tries if it has any (writing the
    /// table), and returns it. Fails when nothing is bootable.
    pub fn next_boot(&self) -> Result<NextBoot, SlotsError> {
        let mut file = self.open_file(true)?;
        let mut table = table::read(&mut file, &self.path)?;
        let usr = self.usr_indices(&table)?;
        let Some(index) = Self::choose(&table, &usr) else {
            let slots = usr
                .iter()
                .map(|&i| {
                    let s = self.slot_of(&table, i, false);
                    format!(
                        "{} priority {} tries {} successful {}",
                        s.label,
                        s.priority,
                        s.tries,
                        u8::from(s.successful)
                    )
                })
                .collect::<Vec<_>>()
                .join("; ");
            return Err(SlotsError::NothingBootable {
                path: self.path.clone(),
                slots,
            });
        };
        let attrs = Self::attrs(&table, index);
        let used_try = attrs.tries > 0;
        if used_try {
            Self::set(
                &mut table,
                index,
                BootAttributes {
                    tries: attrs.tries - 1,
                    ..attrs
                },
            );
            table::write(&mut file, &self.path, &table)?;
        }
        drop(file);
        Ok(NextBoot {
            slot: self.slot_of(&table, index, true),
            used_try,
        })
    }
}
