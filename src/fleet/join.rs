//! Whether and how an agent joins the fleet: from the keys it already reads (update.conf
//! and locksmithd's environment), no file of its own.
//!
//! `KINDLING_FLEET=on` joins; the etcd is the lock's (`LOCKSMITHD_ENDPOINT`, its TLS files
//! and credentials); the group is `KINDLING_FLEET_GROUP`, else `LOCKSMITHD_GROUP`, else
//! `default`. `KINDLING_FLEET_TTL` (seconds, default 60) is the lease that says the node is
//! alive, and `KINDLING_FLEET_ADDRESS` overrides the address shown (otherwise the local
//! address the node reaches etcd from).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::lock::LockConfig;

/// Why the fleet settings cannot be understood, with the key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// `KINDLING_FLEET` is neither on nor off (its value).
    #[error("{FLEET_KEY}={0} is neither on nor off")]
    Switch(String),
    /// The lock's settings, which say how to reach etcd.
    #[error("{0}")]
    Lock(#[from] crate::lock::LockError),
    /// `KINDLING_FLEET_TTL` is not a lease TTL (its value).
    #[error("{TTL_KEY}={0} is not a number of seconds in 2..3600")]
    Ttl(String),
}

/// The fleet settings of one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Join {
    /// How to reach etcd (endpoints, TLS, credentials).
    pub etcd: LockConfig,
    /// The fleet group.
    pub group: String,
    /// The liveness lease's TTL.
    pub ttl: Duration,
    /// The address to show, when set.
    pub address: Option<String>,
}

/// The key that makes an agent join.
pub const FLEET_KEY: &str = "KINDLING_FLEET";
/// The key naming the fleet group.
pub const GROUP_KEY: &str = "KINDLING_FLEET_GROUP";
/// The liveness lease's TTL key.
pub const TTL_KEY: &str = "KINDLING_FLEET_TTL";
/// The address key.
pub const ADDRESS_KEY: &str = "KINDLING_FLEET_ADDRESS";

impl Join {
    /// The fleet settings from `keys`; `Ok(None)` when the node does not join.
    ///
    /// # Errors
    /// A value that cannot be understood, with its key.
    pub fn from_keys(keys: &BTreeMap<String, String>) -> Result<Option<Join>, JoinError> {
        let get = |k: &str| keys.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        match get(FLEET_KEY) {
            None | Some("off" | "no" | "false" | "0") => return Ok(None),
            Some("on" | "yes" | "true" | "1") => {}
            Some(other) => {
                return Err(JoinError::Switch(other.to_string()));
            }
        }
        let etcd = LockConfig::from_env(|k| keys.get(k).cloned())?;
        let group = get(GROUP_KEY)
            .map(str::to_string)
            .unwrap_or_else(|| etcd.named_group().to_string());
        let ttl = match get(TTL_KEY) {
            None => Duration::from_secs(60),
            Some(v) => match v.parse::<u64>() {
                Ok(s) if (2..=3600).contains(&s) => Duration::from_secs(s),
                _ => return Err(JoinError::Ttl(v.to_string())),
            },
        };
        Ok(Some(Join {
            etcd,
            group,
            ttl,
            address: get(ADDRESS_KEY).map(str::to_string),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn joins_only_when_asked_and_takes_the_lock_group() {
        assert_eq!(Join::from_keys(&keys(&[])).unwrap(), None);
        let j = Join::from_keys(&keys(&[
            ("KINDLING_FLEET", "on"),
            ("LOCKSMITHD_ENDPOINT", "http://127.0.0.1:1"),
            ("LOCKSMITHD_GROUP", "web"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(j.group, "web");
        assert_eq!(j.etcd.endpoints, ["http://127.0.0.1:1"]);
        let j = Join::from_keys(&keys(&[
            ("KINDLING_FLEET", "on"),
            ("KINDLING_FLEET_GROUP", "canary"),
            ("LOCKSMITHD_GROUP", "web"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(j.group, "canary");
        assert!(Join::from_keys(&keys(&[("KINDLING_FLEET", "maybe")])).is_err());
        assert!(
            Join::from_keys(&keys(&[
                ("KINDLING_FLEET", "on"),
                ("KINDLING_FLEET_TTL", "0")
            ]))
            .is_err()
        );
    }
}
