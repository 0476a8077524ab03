//! One group's nodes as an operator sees them: each node's record (or why it cannot be
//! used) and whether its lease lives ([`Listed`]), built from the keys read or watched, and
//! how a node is named to an operator ([`host_names`], [`find`]). Nothing here reads etcd:
//! `etcd` lists, `mirror` follows, `view`, `preview` and the rollout controller read these.

use std::collections::{HashMap, HashSet};

use super::keys;
use super::record::NodeRecord;

/// Why a listed node's record cannot be used (the parse error as the operator reads it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unusable(pub String);

impl std::fmt::Display for Unusable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<super::error::ValueError> for Unusable {
    fn from(e: super::error::ValueError) -> Unusable {
        Unusable(e.to_string())
    }
}

/// One node as listed: its record (or why it cannot be used) and whether its lease lives.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The node id (from the key).
    pub id: String,
    /// The record, or why it was refused.
    pub record: Result<NodeRecord, Unusable>,
    /// Whether its liveness key exists (its lease did not expire).
    pub alive: bool,
}

impl Listed {
    /// The node whose record key is `key` and value `value` in `group`; a record that
    /// cannot be used is kept with the reason, never dropped.
    #[must_use]
    pub fn read(key: &str, value: &[u8], group: &str, alive: &HashSet<String>) -> Listed {
        let id = keys::id_of(key).to_string();
        Listed {
            alive: alive.contains(&id),
            record: NodeRecord::parse(value, group).map_err(Unusable::from),
            id,
        }
    }
}

/// How each node is named to an operator (by id): its hostname as `fleet status` shows it,
/// followed by its machine id in parentheses when another node has the same hostname, and
/// its id alone when its record cannot be read.
pub fn host_names<'a>(nodes: impl IntoIterator<Item = &'a Listed>) -> HashMap<String, String> {
    let named: Vec<(&str, &str)> = nodes
        .into_iter()
        .map(|l| {
            let host = l
                .record
                .as_ref()
                .map_or(l.id.as_str(), |r| r.hostname.as_str());
            (l.id.as_str(), host)
        })
        .collect();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (_, host) in &named {
        *seen.entry(host).or_default() += 1;
    }
    named
        .iter()
        .map(|(id, host)| {
            let name = if seen.get(host).copied().unwrap_or(0) > 1 && id != host {
                format!("{host} ({id})")
            } else {
                (*host).to_string()
            };
            ((*id).to_string(), name)
        })
        .collect()
}

/// The node an operator named `name` (its machine id, else its hostname).
#[must_use]
pub fn find<'a>(nodes: &'a [Listed], name: &str) -> Option<&'a Listed> {
    nodes.iter().find(|l| l.id == name).or_else(|| {
        nodes
            .iter()
            .find(|l| l.record.as_ref().is_ok_and(|r| r.hostname == name))
    })
}

#[cfg(test)]
pub mod tests {
    use super::*;
    use crate::fleet::record::NodeState;

    /// A listed node `id` named `host-<id>` (shared with the view's tests).
    pub(crate) fn node(id: &str, generation: u64, state: NodeState, alive: bool) -> Listed {
        Listed {
            id: id.into(),
            alive,
            record: Ok(NodeRecord {
                group: "g".into(),
                machine_id: id.into(),
                hostname: format!("host-{id}"),
                generation,
                state,
                ..NodeRecord::default()
            }),
        }
    }

    #[test]
    fn host_names_add_the_machine_id_only_where_a_hostname_is_shared() {
        let mut twin = node("b", 1, NodeState::Applied, true);
        if let Ok(r) = &mut twin.record {
            r.hostname = "host-c".into();
        }
        let nodes = vec![
            node("a", 1, NodeState::Applied, true),
            twin,
            node("c", 1, NodeState::Applied, true),
            Listed {
                id: "d".into(),
                alive: true,
                record: Err(Unusable("not JSON".into())),
            },
        ];
        let names = host_names(&nodes);
        assert_eq!(names["a"], "host-a");
        assert_eq!(names["b"], "host-c (b)");
        assert_eq!(names["c"], "host-c (c)");
        assert_eq!(names["d"], "d");
    }
}
