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

/// The functions naming one node's key under a directory of the group (`node/<id>`, ...).
macro_rules! node_keys {
    ($($(#[$doc:meta])* $name:ident => $dir:literal;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(group: &str, id: &str) -> String {
            format!("{}{}/{}", group_prefix(group), $dir, query_escape(id))
        }
    )*};
}

node_keys! {
    /// A node's record key.
    node => "node";
    /// A node's liveness key.
    live => "live";
    /// A node's admission by a rollout.
    admit => "admit";
    /// A node's admission to reboot into a release.
    admit_release => "admit-release";
    /// A rollback request to a node.
    rollback => "rollback";
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
