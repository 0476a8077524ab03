//! `fleet rollout rollback`, the operator's side of recovering nodes: choose the nodes
//! (named, or every node the config rollout counts as failed and not yet rolled back), ask
//! each to return to the generation it saved (`recover::request`, every request first so
//! the nodes restore at the same time), wait for each node's answer in its record by watch
//! ([`Mirror`]), and note the restored ones in the rollout. The node checks and carries out
//! the request itself (`recover`); nothing here touches a node.

use std::time::Duration;

use tokio::time::Instant;

use super::error::Error;
use super::etcd::FleetEtcd;
use super::listing::{Listed, find};
use super::mirror::Mirror;
use super::record::{RollbackAnswer, now_secs};
use super::recover;
use super::rollout::Rollout;

/// One node asked to return to a generation.
#[derive(Debug, Clone)]
pub struct Answered {
    /// The node id.
    pub id: String,
    /// Its hostname (its id when its record cannot be read).
    pub host: String,
    /// The generation it was asked to return to.
    pub to: u64,
    /// Its answer, `None` when it did not answer in time.
    pub answer: Option<RollbackAnswer>,
}

/// What a rollback did.
#[derive(Debug, Clone)]
pub struct Report {
    /// Every node asked, by id, with its answer.
    pub nodes: Vec<Answered>,
    /// Whether the rollout could not be updated with the restored nodes.
    pub rollout_not_updated: bool,
}

/// Ask the nodes `names` (machine ids or hostnames), and with `failed` every node the
/// config rollout counts as failed, to return to `to` (default: the generation each node
/// reports it can restore); wait up to `timeout` for their answers.
///
/// # Errors
/// A node that is not in the group or reports nothing saved, `--failed` without a config
/// rollout, no node at all (nothing asked then), or etcd.
pub async fn rollback(
    store: &FleetEtcd,
    names: &[String],
    failed: bool,
    to: Option<u64>,
    timeout: Duration,
) -> Result<Report, Error> {
    // Read once and follow the group by watch: the answers arrive as record changes.
    let mut fleet = Mirror::open(store).await?;
    let nodes = fleet.listed();
    let rollout = store.rollout().await?.map(|(r, _)| r);
    let ids = choose(store.group(), &nodes, rollout.as_ref(), names, failed)?;
    let asked = ask(store, &nodes, &ids, to).await?;
    let answered = answers(&mut fleet, asked, Instant::now() + timeout).await?;
    let restored: Vec<(String, u64)> = answered
        .iter()
        .filter(|a| a.answer.as_ref().is_some_and(|x| x.restored))
        .map(|a| (a.id.clone(), a.to))
        .collect();
    let rollout_not_updated =
        rollout.is_some() && !restored.is_empty() && !note_restored(store, &restored).await;
    Ok(Report {
        nodes: answered,
        rollout_not_updated,
    })
}

/// The ids of the nodes to roll back, sorted, each once.
fn choose(
    group: &str,
    nodes: &[Listed],
    rollout: Option<&Rollout>,
    names: &[String],
    failed: bool,
) -> Result<Vec<String>, Error> {
    let mut ids: Vec<String> = Vec::new();
    for name in names {
        let listed = find(nodes, name).ok_or_else(|| Error::NoSuchNode {
            name: name.clone(),
            group: group.to_string(),
        })?;
        ids.push(listed.id.clone());
    }
    if failed {
        match rollout {
            Some(r) if r.release.is_none() => ids.extend(
                r.failed
                    .keys()
                    .filter(|id| !r.rolled_back.contains_key(*id))
                    .cloned(),
            ),
            Some(r) => return Err(Error::FailedOfRelease(r.what())),
            None => return Err(Error::FailedWithoutRollout),
        }
    }
    ids.sort();
    ids.dedup();
    if ids.is_empty() {
        return Err(Error::NothingToRollBack);
    }
    Ok(ids)
}

/// Write every node's request; each node as asked, with the request's revision.
async fn ask(
    store: &FleetEtcd,
    nodes: &[Listed],
    ids: &[String],
    to: Option<u64>,
) -> Result<Vec<(Answered, i64)>, Error> {
    let mut asked = Vec::new();
    for id in ids {
        let record = nodes
            .iter()
            .find(|l| &l.id == id)
            .and_then(|l| l.record.as_ref().ok());
        let host = record.map_or_else(|| id.clone(), |r| r.hostname.clone());
        let Some(generation) = to.or_else(|| record.and_then(|r| r.rollback_to)) else {
            return Err(Error::NothingSaved(host));
        };
        let revision = recover::request(store, id, generation).await?;
        let node = Answered {
            id: id.clone(),
            host,
            to: generation,
            answer: None,
        };
        asked.push((node, revision));
    }
    Ok(asked)
}

/// Wait until every node asked answered its request (or `deadline`).
async fn answers(
    fleet: &mut Mirror,
    asked: Vec<(Answered, i64)>,
    deadline: Instant,
) -> Result<Vec<Answered>, Error> {
    loop {
        let past = Instant::now() >= deadline;
        // "No answer" is said from a fresh read, never from a watch that may have died.
        if past {
            fleet.resync().await?;
        }
        let answered: Vec<Answered> = asked
            .iter()
            .map(|(node, revision)| Answered {
                answer: fleet
                    .node(&node.id)
                    .and_then(|l| l.record.as_ref().ok())
                    .and_then(|r| r.rollback.clone())
                    .filter(|a| a.revision == *revision),
                ..node.clone()
            })
            .collect();
        if answered.iter().all(|a| a.answer.is_some()) || past {
            return Ok(answered);
        }
        fleet.changed(deadline).await?;
    }
}

/// Note the restored nodes (id, generation) in the rollout; false when it could not be
/// written.
async fn note_restored(store: &FleetEtcd, restored: &[(String, u64)]) -> bool {
    for _ in 0..16 {
        let Ok(Some((mut r, rev))) = store.rollout().await else {
            return false;
        };
        for (id, g) in restored {
            if r.admitted.contains(id) {
                r.rolled_back.insert(id.clone(), *g);
            }
        }
        r.updated_at = now_secs();
        if let Ok(true) = store.put_rollout(&r, rev).await {
            return true;
        }
    }
    false
}
