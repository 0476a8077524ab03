//! The fleet's keys in etcd (v3), all under `kindling/fleet/<QueryEscape(group)>/`:
//!
//! - `node/<id>`: a node's record (JSON, no lease, so a node that dies stays listed);
//! - `live/<id>`: an empty value on the node's lease; gone means the node is unreachable;
//! - `config`: the published config (JSON with its generation); `config-history/<gen>`
//!   keeps every generation, so a node can be rolled back to the previous one;
//! - `admit/<id>`: the generation a rollout admitted this node to (held publishes only);
//! - `admit-release/<id>`: the release a release rollout admitted this node to reboot into;
//! - `rollback/<id>`: an operator's request that the node restore its previous generation
//!   (JSON, deleted by the node once answered in its record);
//! - `rollout`: the rollout (JSON), of a held config or of a release.

use crate::lock::query_escape;

/// The longest config text a publish accepts (etcd's own request limit is 1.5 MiB).
pub const MAX_CONFIG_BYTES: usize = 256 * 1024;
/// The longest node record accepted (a larger one is shown as invalid, never used).
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
/// The most paths a digest may list.
pub const MAX_DIGEST_ENTRIES: usize = 4096;

/// The prefix of a group.
#[must_use]
pub fn group_prefix(group: &str) -> String {
    format!("kindling/fleet/{}/", query_escape(group))
}

/// A node's record key.
#[must_use]
pub fn node(group: &str, id: &str) -> String {
    format!("{}node/{}", group_prefix(group), query_escape(id))
}

/// A node's liveness key.
#[must_use]
pub fn live(group: &str, id: &str) -> String {
    format!("{}live/{}", group_prefix(group), query_escape(id))
}

/// The published config.
#[must_use]
pub fn config(group: &str) -> String {
    format!("{}config", group_prefix(group))
}

/// One generation kept for rollbacks.
#[must_use]
pub fn config_history(group: &str, generation: u64) -> String {
    format!("{}config-history/{generation:020}", group_prefix(group))
}

/// A node's admission by a rollout.
#[must_use]
pub fn admit(group: &str, id: &str) -> String {
    format!("{}admit/{}", group_prefix(group), query_escape(id))
}

/// A node's admission to reboot into a release.
#[must_use]
pub fn admit_release(group: &str, id: &str) -> String {
    format!("{}admit-release/{}", group_prefix(group), query_escape(id))
}

/// A rollback request to a node.
#[must_use]
pub fn rollback(group: &str, id: &str) -> String {
    format!("{}rollback/{}", group_prefix(group), query_escape(id))
}

/// The group's rollout.
#[must_use]
pub fn rollout(group: &str) -> String {
    format!("{}rollout", group_prefix(group))
}

/// The id at the end of a `node/`, `live/` or `admit/` key (still escaped).
#[must_use]
pub fn id_of(key: &str) -> &str {
    key.rsplit('/').next().unwrap_or(key)
}
