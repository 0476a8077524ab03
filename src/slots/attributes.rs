//! The ChromeOS/CoreOS boot attributes in a GPT entry's 64-bit attribute field, and the two
//! pieces of policy built on them: cgpt's `prioritize` renumbering and the firmware's
//! `gptprio.next` choice. Everything here is pure (no I/O) so the algorithms can be checked
//! case by case against the real tools.

/// Priority: bits 48–51 (cgpt `CGPT_ATTRIBUTE_PRIORITY_OFFSET`).
const PRIORITY_SHIFT: u32 = 48;
/// Tries left: bits 52–55.
const TRIES_SHIFT: u32 = 52;
/// Successful: bit 56.
const SUCCESSFUL_SHIFT: u32 = 56;
const NIBBLE: u64 = 0xF;

/// The boot attributes of one partition entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootAttributes {
    /// 0..=15; 0 means "never boot this".
    pub priority: u8,
    /// 0..=15 boot attempts left for a slot that is not yet successful.
    pub tries: u8,
    /// Whether the slot has booted successfully (set by coreos-setgoodroot).
    pub successful: bool,
}

impl BootAttributes {
    /// Reads the three fields from a raw attribute value.
    #[must_use]
    pub fn from_bits(bits: u64) -> Self {
        // The masks keep each value within 0..=15, so the casts cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        BootAttributes {
            priority: ((bits >> PRIORITY_SHIFT) & NIBBLE) as u8,
            tries: ((bits >> TRIES_SHIFT) & NIBBLE) as u8,
            successful: (bits >> SUCCESSFUL_SHIFT) & 1 == 1,
        }
    }

    /// Writes the three fields into `bits`, leaving every other bit (required, legacy
    /// bootable, read-only, the reserved ones) exactly as it was. Values above 15 are
    /// clamped, as cgpt refuses them.
    #[must_use]
    pub fn apply_to(self, bits: u64) -> u64 {
        let mask = (NIBBLE << PRIORITY_SHIFT) | (NIBBLE << TRIES_SHIFT) | (1 << SUCCESSFUL_SHIFT);
        let priority = u64::from(self.priority.min(15));
        let tries = u64::from(self.tries.min(15));
        (bits & !mask)
            | (priority << PRIORITY_SHIFT)
            | (tries << TRIES_SHIFT)
            | (u64::from(self.successful) << SUCCESSFUL_SHIFT)
    }
}

/// cgpt's `prioritize` (seismograph `cgpt_prioritize.c`, identical to vboot's) over the
/// coreos-usr partitions of a disk, given as `(partition number, priority)` in table order.
/// Returns the new priority of each partition, in the same order.
///
/// The algorithm: partitions are grouped by priority; the chosen one (`-i N`) is moved into
/// a group of its own above all others; groups are ranked from highest to lowest; a lowest
/// group of priority 0 is left alone (nothing is ever lowered to 0); the remaining groups get
/// `min(groups, 15)`, then one less per group, never below 1 (so when there are more than 15
/// groups the lowest ones are merged at 1).
#[must_use]
pub fn prioritize(parts: &[(u32, u8)], chosen: Option<u32>) -> Vec<(u32, u8)> {
    // The chosen partition's group is keyed 99, above every real priority, as in cgpt.
    let key = |&(number, priority): &(u32, u8)| -> u32 {
        if Some(number) == chosen {
            99
        } else {
            u32::from(priority)
        }
    };
    let mut groups: Vec<u32> = parts.iter().map(key).collect();
    groups.sort_unstable_by(|a, b| b.cmp(a));
    groups.dedup();
    // Never lower anything to zero: a lowest group of priority 0 keeps its 0.
    if groups.last() == Some(&0) {
        groups.pop();
    }
    let mut next = u8::try_from(groups.len().min(15)).unwrap_or(15);
    let mut new_priority = Vec::with_capacity(groups.len());
    for group in &groups {
        new_priority.push((*group, next));
        if next > 1 {
            next -= 1;
        }
    }
    parts
        .iter()
        .map(|part| {
            let k = key(part);
            let priority = new_priority
                .iter()
                .find(|(group, _)| *group == k)
                .map_or(part.1, |(_, p)| *p);
            (part.0, priority)
        })
        .collect()
}

/// The firmware's choice (GRUB `gptprio.next` from the CoreOS GRUB patch): among the
/// coreos-usr partitions, given as `(partition number, attributes)` in table order, the one
/// with the highest priority that is successful or has tries left. Priority 0 never boots,
/// and on a tie the partition that comes first in the table wins (GRUB only replaces its
/// candidate on a strictly higher priority).
#[must_use]
pub fn choose_next(parts: &[(u32, BootAttributes)]) -> Option<u32> {
    let mut found: Option<(u32, u8)> = None;
    for &(number, attrs) in parts {
        let best = found.map_or(0, |(_, priority)| priority);
        if (attrs.tries > 0 || attrs.successful) && attrs.priority > best {
            found = Some((number, attrs.priority));
        }
    }
    found.map(|(number, _)| number)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bits_round_trip_and_leave_other_bits_alone() {
        let other = (1u64 << 60) | (1 << 2) | 1;
        let attrs = BootAttributes {
            priority: 2,
            tries: 1,
            successful: true,
        };
        let bits = attrs.apply_to(other | (0xF << 48));
        assert_eq!(BootAttributes::from_bits(bits), attrs);
        assert_eq!(bits & other, other);
        assert_eq!((bits >> 48) & 0xFFFF, 0x1112);
    }

    fn check(before: &[u8], chosen: Option<u32>, after: &[u8]) {
        let parts: Vec<(u32, u8)> = before
            .iter()
            .enumerate()
            .map(|(i, p)| (u32::try_from(i).unwrap() + 1, *p))
            .collect();
        let got: Vec<u8> = prioritize(&parts, chosen).iter().map(|p| p.1).collect();
        assert_eq!(got, after, "prioritize {before:?} with -i {chosen:?}");
    }

    #[test]
    fn prioritize_cases() {
        // The update case: good slot 1, new slot 0 made top.
        check(&[1, 0], Some(2), &[1, 2]);
        // Marking the running slot good again changes nothing.
        check(&[1, 2], Some(2), &[1, 2]);
        // Renumbering from the top: 15 collapses.
        check(&[15, 15], Some(2), &[1, 2]);
        check(&[15, 3], Some(2), &[1, 2]);
        // Zero stays zero; without -i only the order is compacted.
        check(&[0, 0, 5], None, &[0, 0, 1]);
        check(&[0, 7, 5], Some(1), &[3, 2, 1]);
        check(&[3, 3, 1], None, &[2, 2, 1]);
    }

    #[test]
    fn prioritize_more_than_fifteen_groups_merges_the_lowest_at_one() {
        let before: Vec<u8> = (0..=15).collect();
        let parts: Vec<(u32, u8)> = before
            .iter()
            .enumerate()
            .map(|(i, p)| (u32::try_from(i).unwrap() + 1, *p))
            .collect();
        // Partition 1 (priority 0) chosen: 16 groups above zero -> 15, 14, ... 1, 1.
        let got: Vec<u8> = prioritize(&parts, Some(1)).iter().map(|p| p.1).collect();
        assert_eq!(got[0], 15);
        assert_eq!(got[15], 14);
        assert_eq!(got[1], 1);
        assert_eq!(got[2], 1);
    }

    fn a(priority: u8, tries: u8, successful: bool) -> BootAttributes {
        BootAttributes {
            priority,
            tries,
            successful,
        }
    }

    #[test]
    fn next_follows_gptprio() {
        assert_eq!(
            choose_next(&[(3, a(1, 0, true)), (4, a(2, 1, false))]),
            Some(4)
        );
        assert_eq!(
            choose_next(&[(3, a(1, 0, true)), (4, a(2, 0, false))]),
            Some(3)
        );
        // Ties: the first in table order.
        assert_eq!(
            choose_next(&[(3, a(2, 0, true)), (4, a(2, 1, false))]),
            Some(3)
        );
        // Priority 0 never boots, even when successful.
        assert_eq!(
            choose_next(&[(3, a(0, 0, true)), (4, a(0, 5, false))]),
            None
        );
        assert_eq!(choose_next(&[]), None);
    }
}
