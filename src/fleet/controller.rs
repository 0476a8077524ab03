//! The rollout controller: orchestrated rollout of a held config or of an OS release
//! (StarlingX's `sw-manager patch-strategy`). The rollout is a value in etcd (`rollout`),
//! and `fleet rollout apply` runs this controller on it. It admits nodes
//! in waves (serial: one at a time; parallel: at most `max_parallel`), waits for every node
//! of a wave to report the generation applied (or failed, or unreachable), applies the
//! health gate (`strict`: stop at the first failure; `relaxed`: tolerate up to K), and only
//! then starts the next wave. An abort stops admitting; the nodes of the wave in flight are
//! waited for, so every node ends in a reported, consistent state (old generation, new
//! generation, or rolled back to the old one by its own health check).
//!
//! A release rollout (`release` set) admits nodes that staged the release (the update
//! server's own rollout controls decide who is offered it at all) by writing
//! `admit-release/<id>`; the node's agent reboots into it only once admitted, then through
//! its window and the reboot lock, whose slots still bound how many reboot at once. A node
//! is done when its record shows it running the release with its slot marked good, failed
//! when the release is on its deny list (its health check failed or the firmware fell
//! back), and unreachable when it did not come back from its reboot within the node
//! timeout (a node is expected to drop off the fleet for its reboot, so an expired lease
//! alone is not yet a failure for a release wave).
//!
//! The controller keeps no state of its own: every step is written to the rollout value
//! (compare-and-swap), so `rollout show` sees it and a controller that was killed can be
//! started again and resumes. It waits by watch ([`Mirror`]): the group is read once when it
//! starts, then etcd sends only the records that change, whatever the fleet's size.

use std::time::Duration;

use super::etcd::FleetEtcd;
use super::listing::{Listed, host_names};
use super::mirror::Mirror;
use super::record::{NodeRecord, now_secs};
use super::rollout::{Phase, Rollout};

/// Write `change`d rollout with compare-and-swap, re-reading on a conflict (an abort written
/// meanwhile is kept: the change is re-applied to the fresh value).
async fn update(store: &FleetEtcd, change: &dyn Fn(&mut Rollout)) -> Result<Rollout, String> {
    for _ in 0..32 {
        let Some((mut r, rev)) = store.rollout().await? else {
            return Err("the rollout was deleted".into());
        };
        change(&mut r);
        r.updated_at = now_secs();
        if store.put_rollout(&r, rev).await? {
            return Ok(r);
        }
    }
    Err("the rollout kept changing under the controller".into())
}

/// What a rollout needs of the nodes: which are left to do, which may be admitted now,
/// and what one admitted node's record says.
enum Target {
    Config(u64),
    Release(String),
}

impl Target {
    fn of(r: &Rollout) -> Target {
        match &r.release {
            Some(v) => Target::Release(v.clone()),
            None => Target::Config(r.generation),
        }
    }

    /// Not there yet and not failed with it: still to do.
    fn left(&self, rec: &NodeRecord) -> bool {
        match self {
            Target::Config(g) => rec.generation != *g,
            Target::Release(v) => rec.agent.running_version != *v && !rec.agent.denied.contains(v),
        }
    }

    /// Ready to be admitted now (a release: staged, so the reboot runs it).
    fn ready(&self, rec: &NodeRecord) -> bool {
        match self {
            Target::Config(_) => true,
            Target::Release(v) => rec.agent.staged_version.as_deref() == Some(v.as_str()),
        }
    }

    /// An admitted node's outcome, when it has one. `past_deadline`: the wave's time is up.
    fn outcome(&self, listed: Option<&Listed>, past_deadline: bool) -> Option<Result<(), String>> {
        let Some(l) = listed else {
            return Some(Err("its record disappeared".to_string()));
        };
        let rec = match &l.record {
            Err(why) => return Some(Err(format!("invalid record: {why}"))),
            Ok(rec) => rec,
        };
        match self {
            Target::Config(g) => {
                if !l.alive {
                    Some(Err("unreachable (its lease expired)".to_string()))
                } else if rec.target_generation == *g && rec.state.is_failure() {
                    Some(Err(format!(
                        "{}: {}",
                        rec.state.name(),
                        rec.state.reason().unwrap_or("")
                    )))
                } else if rec.generation == *g && rec.state.is_success() {
                    Some(Ok(()))
                } else {
                    None
                }
            }
            Target::Release(v) => {
                if rec.agent.denied.contains(v) {
                    Some(Err(format!(
                        "rolled back: {v} failed on the node (its health check failed or the firmware fell back); it runs {}",
                        rec.agent.running_version
                    )))
                } else if l.alive
                    && rec.agent.running_version == *v
                    && rec.agent.marked_good
                    && rec.agent.staged_version.is_none()
                {
                    Some(Ok(()))
                } else if !l.alive && past_deadline {
                    Some(Err(
                        "unreachable: its lease expired and it did not come back from its reboot in time"
                            .to_string(),
                    ))
                } else {
                    None
                }
            }
        }
    }
}

/// Run the rollout to its end (the controller): waves, health gate, abort. `node_timeout`
/// bounds the wait for one wave (and, for a release, for a node to stage it); `say` gets a
/// line per step. A controller started again resumes: the nodes admitted without an
/// outcome are waited for first.
///
/// # Errors
/// When etcd fails or there is no rollout.
pub async fn run(
    store: &FleetEtcd,
    node_timeout: Duration,
    say: &mut dyn FnMut(&str),
) -> Result<Rollout, String> {
    let Some((r, _)) = store.rollout().await? else {
        return Err(format!(
            "no rollout in group {:?}; create one with `kindling fleet rollout create`",
            store.group()
        ));
    };
    if r.is_finished() {
        return Ok(r);
    }
    let target = Target::of(&r);
    let mut r = update(store, &|r| {
        if r.phase == Phase::Created {
            r.phase = Phase::Running;
        }
    })
    .await?;
    // The group is read once here and then followed by one watch: every wait below wakes
    // up on the events of the nodes' records and liveness keys (a lease that expires
    // deletes its `live/` key: an event too) or at its own deadline, and never reads the
    // whole group again in a loop.
    let mut fleet = Mirror::open(store).await?;
    // Waiting for nodes to stage a release: since when nothing could be admitted.
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        let in_flight = r.in_flight();
        fleet.catch_up().await?;
        let names = host_names(fleet.nodes());
        let name = |id: &String| names.get(id).cloned().unwrap_or_else(|| id.clone());
        let wave = if in_flight.is_empty() {
            if r.phase == Phase::Aborting {
                let done = update(store, &|r| r.phase = Phase::Aborted).await?;
                say(&done.summary());
                return Ok(done);
            }
            let left: Vec<(&Listed, &NodeRecord)> = fleet
                .nodes()
                .filter(|l| l.alive && !r.admitted.contains(&l.id))
                .filter_map(|l| l.record.as_ref().ok().map(|rec| (l, rec)))
                .filter(|(_, rec)| target.left(rec))
                .collect();
            let mut candidates: Vec<(String, String)> = left
                .iter()
                .filter(|(_, rec)| target.ready(rec))
                .map(|(l, rec)| (rec.hostname.clone(), l.id.clone()))
                .collect();
            candidates.sort();
            if candidates.is_empty() {
                let until =
                    *idle_since.get_or_insert_with(tokio::time::Instant::now) + node_timeout;
                if !left.is_empty() && tokio::time::Instant::now() < until {
                    // A release not staged everywhere yet: the agents download it on their
                    // own schedule. Wait for a node's record to change (or the time to run
                    // out); an abort is a change of the rollout key, read again then.
                    drop(left);
                    fleet.changed(until).await?;
                    if fleet.take_rollout_changed() {
                        r = match store.rollout().await? {
                            Some((fresh, _)) => fresh,
                            None => return Err("the rollout was deleted".into()),
                        };
                    }
                    continue;
                }
                let not_staged: Vec<String> = left.iter().map(|(l, _)| l.id.clone()).collect();
                let done = update(store, &|r| {
                    if r.phase == Phase::Running {
                        r.phase = Phase::Completed;
                        r.not_staged.clone_from(&not_staged);
                    }
                })
                .await?;
                say(&done.summary());
                return Ok(done);
            }
            idle_since = None;
            let wave: Vec<String> = candidates
                .into_iter()
                .take(r.max_parallel)
                .map(|(_, id)| id)
                .collect();
            // The rollout first, then the admissions: a controller killed in between finds
            // the nodes in flight when it starts again, and admits them again (idempotent).
            update(store, &|r| r.admitted.extend(wave.iter().cloned())).await?;
            admit(store, &target, &wave).await?;
            say(&format!(
                "admitted {}",
                wave.iter().map(name).collect::<Vec<_>>().join(", ")
            ));
            wave
        } else {
            say(&format!(
                "waiting for {} (admitted before)",
                in_flight.iter().map(name).collect::<Vec<_>>().join(", ")
            ));
            admit(store, &target, &in_flight).await?;
            in_flight
        };
        let outcomes = wait_wave(&mut fleet, &target, &wave, node_timeout).await?;
        for (id, o) in &outcomes {
            match o {
                Ok(()) => say(&format!("{} done", name(id))),
                Err(why) => say(&format!("{} failed: {why}", name(id))),
            }
        }
        r = update(store, &|r| {
            for (id, o) in &outcomes {
                if r.succeeded.contains(id) || r.failed.contains_key(id) {
                    continue;
                }
                match o {
                    Ok(()) => r.succeeded.push(id.clone()),
                    Err(why) => {
                        r.failed.insert(id.clone(), why.clone());
                    }
                }
            }
            if r.failed.len() > r.max_failures && r.phase == Phase::Running {
                let first = r.failed.keys().next().cloned().unwrap_or_default();
                r.phase = Phase::Stopped(if r.max_failures == 0 {
                    format!("strict health gate: {first} failed")
                } else {
                    format!(
                        "relaxed health gate: {} failures, more than {} tolerated",
                        r.failed.len(),
                        r.max_failures
                    )
                });
            }
        })
        .await?;
        if r.is_finished() {
            say(&r.summary());
            return Ok(r);
        }
    }
}

/// Write the admission of every node of `wave`.
async fn admit(store: &FleetEtcd, target: &Target, wave: &[String]) -> Result<(), String> {
    for id in wave {
        match target {
            Target::Config(g) => store.admit(id, *g).await?,
            Target::Release(v) => {
                store
                    .put_raw(
                        &super::keys::admit_release(store.group(), id),
                        v.clone().into_bytes(),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// Wait until every node of the wave has an outcome (done, failed, unreachable); bounded
/// by `limit`. Each change the mirror sees is judged from the records it holds (only the
/// changed ones were sent by etcd); at the deadline the group is read once more from
/// scratch, so the verdict "did not report" never rests on a watch that may have died.
async fn wait_wave(
    fleet: &mut Mirror,
    target: &Target,
    wave: &[String],
    limit: Duration,
) -> Result<Vec<(String, Result<(), String>)>, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let past = tokio::time::Instant::now() >= deadline;
        if past {
            fleet.resync().await?;
        }
        let out: Vec<(String, Option<Result<(), String>>)> = wave
            .iter()
            .map(|id| (id.clone(), target.outcome(fleet.node(id), past)))
            .collect();
        if out.iter().all(|(_, o)| o.is_some()) || past {
            return Ok(out
                .into_iter()
                .map(|(id, o)| {
                    (
                        id,
                        o.unwrap_or_else(|| {
                            Err(format!("did not report within {}s", limit.as_secs()))
                        }),
                    )
                })
                .collect());
        }
        fleet.changed(deadline).await?;
    }
}

/// Ask the rollout to stop admitting nodes.
///
/// # Errors
/// When etcd fails or there is no rollout.
pub async fn abort(store: &FleetEtcd) -> Result<Rollout, String> {
    update(store, &|r| {
        if matches!(r.phase, Phase::Created) {
            r.phase = Phase::Aborted;
        } else if matches!(r.phase, Phase::Running) {
            r.phase = Phase::Aborting;
        }
    })
    .await
}
