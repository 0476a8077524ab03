//! The values the fleet keeps in etcd: a node's record (what `fleet status` shows), the
//! digest of the files kindling manages on it (what `fleet diff` predicts from), and the
//! published config. Every value read back is size-limited and checked before use.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::error::ValueError;
use super::keys::{MAX_CONFIG_BYTES, MAX_DIGEST_ENTRIES, MAX_RECORD_BYTES};

/// Where a node stands with the published config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "state", content = "reason", rename_all = "kebab-case")]
pub enum NodeState {
    /// A newer generation is published (or admitted) and not applied yet.
    #[default]
    Pending,
    /// The applier is writing it.
    Applying,
    /// Applied and healthy.
    Applied,
    /// Applied; the reboot-required part waits for a reboot (window and lock).
    AwaitingReboot(String),
    /// Refused or failed, with the reason; nothing (more) was applied.
    Failed(String),
    /// Failed its health check after applying and was restored to the previous generation.
    RolledBack(String),
}

impl NodeState {
    /// The short name of the state (`awaiting-reboot`, ...).
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            NodeState::Pending => "pending",
            NodeState::Applying => "applying",
            NodeState::Applied => "applied",
            NodeState::AwaitingReboot(_) => "awaiting-reboot",
            NodeState::Failed(_) => "failed",
            NodeState::RolledBack(_) => "rolled-back",
        }
    }

    /// The reason, when the state has one.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            NodeState::AwaitingReboot(r) | NodeState::Failed(r) | NodeState::RolledBack(r) => {
                Some(r)
            }
            _ => None,
        }
    }

    /// Whether a rollout may count the node as done with its generation.
    #[must_use]
    pub fn is_success(&self) -> bool {
        matches!(self, NodeState::Applied | NodeState::AwaitingReboot(_))
    }

    /// Whether a rollout must count the node as failed.
    #[must_use]
    pub fn is_failure(&self) -> bool {
        matches!(self, NodeState::Failed(_) | NodeState::RolledBack(_))
    }
}

/// One managed path as the node has it: `sha256:<first 16 hex>:<mode octal>:<uid>:<gid>`,
/// `link:<first 16 hex of the target's sha256>`, or `missing`.
pub type DigestEntry = String;

/// The digest of the files kindling manages on a node, path -> entry.
pub type Digest = BTreeMap<String, DigestEntry>;

/// The first 16 hex digits of a SHA-256 (64 bits: a digest compares files, it is no
/// signature).
#[must_use]
pub fn short_hash(bytes: &[u8]) -> String {
    let h = Sha256::digest(bytes);
    h.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The digest entry of a regular file.
#[must_use]
pub fn file_entry(bytes: &[u8], mode: u32, uid: u32, gid: u32) -> DigestEntry {
    format!(
        "sha256:{}:{:04o}:{uid}:{gid}",
        short_hash(bytes),
        mode & 0o7777
    )
}

/// The digest entry of a symbolic link.
#[must_use]
pub fn link_entry(target: &str) -> DigestEntry {
    format!("link:{}", short_hash(target.as_bytes()))
}

/// What the agent's own state machine says, for the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct AgentView {
    /// update_engine's state name (`UPDATE_STATUS_IDLE`, ...).
    pub status: String,
    /// The running release.
    pub running_version: String,
    /// The staged release, when one waits for a reboot.
    pub staged_version: Option<String>,
    /// The reboot lock held across a reboot (its description).
    pub lock_held: Option<String>,
    /// Whether this boot's release was judged healthy and its slot marked good.
    pub marked_good: bool,
    /// Releases that failed on this node (its health check, or the firmware fell back):
    /// a release rollout counts such a node as failed.
    pub denied: Vec<String>,
    /// Where the reboot into a staged release stands with the group's release rollout
    /// (`waiting for admission to 1.0.1`, `admitted to 1.0.1`); `None` when no release
    /// rollout governs this node.
    pub admission: Option<String>,
    /// Why the last reboot was held back: the pre-reboot hook failed (the slot was given
    /// back; the reboot is tried again at the next window opening).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reboot_held_back: Option<String>,
    /// Why the node is not back in service after its reboot: the post-boot hook failed (the
    /// slot stays held).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_back: Option<String>,
}

/// A node's record: `kindling/fleet/<group>/node/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct NodeRecord {
    /// The group the node belongs to (checked against the key's group).
    pub group: String,
    /// `/etc/machine-id`.
    pub machine_id: String,
    /// `/etc/hostname` (the machine id when there is none).
    pub hostname: String,
    /// The address the node reaches etcd from (or `KINDLING_FLEET_ADDRESS`).
    pub address: String,
    /// The agent's view (versions, update state, lock).
    #[serde(flatten)]
    pub agent: AgentView,
    /// The config generation applied (0: none).
    pub generation: u64,
    /// The generation the node works towards (published, or admitted by a rollout).
    pub target_generation: u64,
    /// Where the node stands with it.
    #[serde(flatten)]
    pub state: NodeState,
    /// Whether a reboot is required, and why (the planned changes that need it).
    pub reboot_required: Vec<String>,
    /// Whether the node passed its health check after the last apply.
    pub healthy: bool,
    /// Unix milliseconds when the last apply started and finished.
    pub apply_started_ms: u64,
    /// See `apply_started_ms`.
    pub apply_finished_ms: u64,
    /// Unix seconds of the last change of this record.
    pub last_seen: i64,
    /// The fleet generation an operator's `fleet rollout rollback` would restore (the node
    /// kept the files it had before the last apply): `None` when there is nothing saved.
    pub rollback_to: Option<u64>,
    /// The answer to the last rollback request.
    pub rollback: Option<RollbackAnswer>,
    /// The managed files.
    pub digest: Digest,
    /// The node's values of `$private_ipv4` and friends (from its `/etc/environment`), so
    /// `fleet diff` substitutes what the node will.
    pub vars: super::vars::Vars,
}

impl NodeRecord {
    /// Read a record from etcd's bytes for `group`, refusing an oversized value, bad JSON,
    /// a record of another group and an oversized digest.
    ///
    /// # Errors
    /// Why the record cannot be used.
    pub fn parse(bytes: &[u8], group: &str) -> Result<NodeRecord, ValueError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(ValueError::RecordTooLarge(bytes.len()));
        }
        // The group first: a record of another group is named as such, whatever else is
        // wrong with it.
        #[derive(Deserialize)]
        struct Group {
            #[serde(default)]
            group: String,
        }
        let claimed: Group = serde_json::from_slice(bytes).map_err(ValueError::RecordNotJson)?;
        if claimed.group != group {
            return Err(ValueError::OtherGroup {
                claimed: claimed.group,
                group: group.to_string(),
            });
        }
        let record: NodeRecord =
            serde_json::from_slice(bytes).map_err(ValueError::RecordUnreadable)?;
        if record.digest.len() > MAX_DIGEST_ENTRIES {
            return Err(ValueError::DigestTooLarge(record.digest.len()));
        }
        super::vars::check(&record.vars)?;
        Ok(record)
    }
}

/// A node's answer to a rollback request (`kindling/fleet/<group>/rollback/<id>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct RollbackAnswer {
    /// The request key's mod revision (which request this answers).
    pub revision: i64,
    /// Whether the files were restored.
    pub restored: bool,
    /// What was done, or why it was refused.
    pub message: String,
}

/// The published config: `kindling/fleet/<group>/config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Its generation: strictly increasing per group.
    pub generation: u64,
    /// The config's text, as validated and compiled by `fleet publish`.
    pub text: String,
    /// SHA-256 of the text (hex).
    pub sha256: String,
    /// Unix seconds.
    pub published_at: i64,
    /// Held: agents apply it only when a rollout admits them.
    #[serde(default)]
    pub hold: bool,
}

impl Published {
    /// Read a published config, refusing an oversized value or bad JSON.
    ///
    /// # Errors
    /// Why it cannot be used.
    pub fn parse(bytes: &[u8]) -> Result<Published, ValueError> {
        if bytes.len() > MAX_CONFIG_BYTES + 4096 {
            return Err(ValueError::PublishedTooLarge(bytes.len()));
        }
        let p: Published = serde_json::from_slice(bytes).map_err(ValueError::PublishedNotJson)?;
        if hex(&Sha256::digest(p.text.as_bytes())) != p.sha256 {
            return Err(ValueError::PublishedHash);
        }
        Ok(p)
    }
}

/// Lowercase hex.
#[must_use]
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Unix seconds now.
#[must_use]
pub fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Unix milliseconds now.
#[must_use]
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_of_another_group_and_oversized_ones_are_refused() {
        let r = NodeRecord {
            group: "web".into(),
            machine_id: "m1".into(),
            state: NodeState::Failed("boom".into()),
            ..NodeRecord::default()
        };
        let bytes = serde_json::to_vec(&r).unwrap();
        assert_eq!(NodeRecord::parse(&bytes, "web").unwrap(), r);
        let err = NodeRecord::parse(&bytes, "db").unwrap_err().to_string();
        assert!(err.contains("group \"web\""), "{err}");
        let big = vec![b' '; MAX_RECORD_BYTES + 1];
        assert!(
            NodeRecord::parse(&big, "web")
                .unwrap_err()
                .to_string()
                .contains("bytes")
        );
        let text = String::from_utf8(bytes).unwrap();
        assert!(text.contains("\"state\":\"failed\""), "{text}");
        assert!(text.contains("\"reason\":\"boom\""), "{text}");
    }

    #[test]
    fn digest_entries_are_compact_and_stable() {
        assert_eq!(
            file_entry(b"", 0o100644, 0, 0),
            "sha256:e3b0c44298fc1c14:0644:0:0"
        );
        assert_eq!(link_entry("/dev/null").len(), 5 + 16);
    }
}
