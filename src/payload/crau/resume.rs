//! [`CrauResume`]: where an interrupted update_engine payload continues, as update_engine's
//! prefs keep it (next operation, next data offset, the SHA-256 context, the metadata size).
//! The agent persists it (serde) after each durable checkpoint and hands it back to
//! [`fetch_crau`](super::fetch_crau). It is never trusted: it must name the same payload
//! (the offer's SHA-256 and size) and the same metadata (header + manifest, whose SHA-256
//! it records), its offset must be exactly where its operation's data starts, and a state
//! that does not decode makes the download start over. What the region holds is not
//! re-read: a slot changed behind kindling's back is caught by the final
//! `new_partition_info` check. One hash state is enough: checkpoints lie before the
//! signatures, where the signed-prefix hash and the whole-payload hash are the same state.

use base64::Engine as _;
use sha2::Sha256;
use sha2::digest::common::hazmat::{SerializableState, SerializedState};

/// A durable resume point of an update_engine payload.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CrauResume {
    /// The offer's SHA-256 (base64): which payload this belongs to.
    pub(super) payload_sha256: String,
    /// The offer's size.
    pub(super) payload_size: u64,
    /// Header + manifest bytes.
    pub(super) metadata_size: u64,
    /// Their SHA-256, hex.
    pub(super) metadata_sha256: String,
    /// Operations `0..next_operation` are applied and synced.
    pub(super) next_operation: usize,
    /// The payload byte where the next operation's data starts.
    pub(super) offset: u64,
    /// The SHA-256 state over bytes `0..offset`, base64 of sha2's serialized state.
    pub(super) sha256_state: String,
}

impl CrauResume {
    /// The payload byte the download continues from.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The first operation still to apply.
    #[must_use]
    pub fn next_operation(&self) -> usize {
        self.next_operation
    }

    /// The payload's SHA-256 (base64, the offer's) this point belongs to.
    #[must_use]
    pub fn payload_sha256(&self) -> &str {
        &self.payload_sha256
    }

    /// The hash state, if it decodes.
    pub(super) fn hasher(&self) -> Option<Sha256> {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(&self.sha256_state)
            .ok()?;
        let state = SerializedState::<Sha256>::try_from(raw.as_slice()).ok()?;
        Sha256::deserialize(&state).ok()
    }
}

/// A hash state as [`CrauResume`] keeps it.
pub(super) fn encode_state(hasher: &Sha256) -> String {
    base64::engine::general_purpose::STANDARD.encode(hasher.serialize().as_slice())
}

/// Lower-case hex.
pub(super) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    #[test]
    fn a_state_round_trips() {
        let mut h = Sha256::new();
        h.update(b"hello ");
        let r = CrauResume {
            payload_sha256: String::new(),
            payload_size: 0,
            metadata_size: 0,
            metadata_sha256: String::new(),
            next_operation: 0,
            offset: 6,
            sha256_state: encode_state(&h),
        };
        let json = serde_json::to_string(&r).unwrap();
        let back: CrauResume = serde_json::from_str(&json).unwrap();
        let mut h2 = back.hasher().unwrap();
        h2.update(b"world");
        assert_eq!(h2.finalize(), Sha256::digest(b"hello world"));
        let bad = CrauResume {
            sha256_state: "AAAA".into(),
            ..back
        };
        assert!(bad.hasher().is_none());
    }
}
