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

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

use super::error::Error;
use super::etcd::FleetEtcd;
use super::keys;
use super::listing::{Listed, host_names};
use super::mirror::Mirror;
use super::record::{NodeRecord, now_secs};
use super::rollout::{Kind, Phase, Rollout};

/// Write `change`d rollout with compare-and-swap, re-reading on a conflict (an abort written
/// meanwhile is kept: the change is re-applied to the fresh value).
async fn update(
    store: &FleetEtcd,
    change: &(dyn Fn(&mut Rollout) + Sync),
) -> Result<Rollout, Error> {
    for _ in 0..32 {
        let Some((mut r, rev)) = store.rollout().await? else {
            return Err(Error::RolloutDeleted);
        };
        change(&mut r);
        r.updated_at = now_secs();
        if store.put_rollout(&r, rev).await? {
            return Ok(r);
        }
    }
    Err(Error::RolloutContended)
}

/// What became of an admitted node.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    /// It has the generation (or runs the release, marked good).
    Done,
    /// It failed, with why (as the rollout keeps it).
    Failed(String),
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
    fn outcome(&self, listed: Option<&Listed>, past_deadline: bool) -> Option<Outcome> {
        let Some(l) = listed else {
            return Some(Outcome::Failed("its record disappeared".to_string()));
        };
        let rec = match &l.record {
            Err(why) => return Some(Outcome::Failed(format!("invalid record: {why}"))),
            Ok(rec) => rec,
        };
        match self {
            Target::Config(g) => Self::config_outcome(*g, l.alive, rec),
            Target::Release(v) => Self::release_outcome(v, l.alive, rec, past_deadline),
        }
    }

    fn config_outcome(generation: u64, alive: bool, rec: &NodeRecord) -> Option<Outcome> {
        if !alive {
            Some(Outcome::Failed(
                "unreachable (its lease expired)".to_string(),
            ))
        } else if rec.target_generation == generation && rec.state.is_failure() {
            Some(Outcome::Failed(format!(
                "{}: {}",
                rec.state.name(),
                rec.state.reason().unwrap_or("")
            )))
        } else if rec.generation == generation && rec.state.is_success() {
            Some(Outcome::Done)
        } else {
            None
        }
    }

    fn release_outcome(
        version: &str,
        alive: bool,
        rec: &NodeRecord,
        past_deadline: bool,
    ) -> Option<Outcome> {
        if rec.agent.denied.iter().any(|d| d == version) {
            Some(Outcome::Failed(format!(
                "rolled back: {version} failed on the node (its health check failed or the firmware fell back); it runs {}",
                rec.agent.running_version
            )))
        } else if alive
            && rec.agent.running_version == version
            && rec.agent.marked_good
            && rec.agent.staged_version.is_none()
        {
            Some(Outcome::Done)
        } else if !alive && past_deadline {
            Some(Outcome::Failed(
                "unreachable: its lease expired and it did not come back from its reboot in time"
                    .to_string(),
            ))
        } else {
            None
        }
    }
}

/// The nodes `ids` as an operator knows them, comma-separated.
fn named(names: &HashMap<String, String>, ids: &[String]) -> String {
    ids.iter()
        .map(|id| names.get(id).unwrap_or(id).as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the controller does next when no node is in flight.
enum Step {
    /// This wave was admitted: wait for it.
    Wave(Vec<String>),
    /// Something changed while waiting for nodes to stage a release: look again.
    Again,
    /// The rollout ended (aborted or completed).
    Finished(Box<Rollout>),
}

/// One run of the controller: the rollout's store, what it rolls out, and the group as
/// the watch keeps it.
struct Controller<'a> {
    store: &'a FleetEtcd,
    target: Target,
    node_timeout: Duration,
    fleet: Mirror,
    /// Waiting for nodes to stage a release: since when nothing could be admitted.
    idle_since: Option<Instant>,
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
    say: &mut (dyn FnMut(&str) + Send),
) -> Result<Rollout, Error> {
    let Some((r, _)) = store.rollout().await? else {
        return Err(Error::NoRolloutToRun(store.group().to_string()));
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
    let mut c = Controller {
        store,
        target,
        node_timeout,
        fleet: Mirror::open(store).await?,
        idle_since: None,
    };
    loop {
        let in_flight = r.in_flight();
        c.fleet.catch_up().await?;
        let names = host_names(c.fleet.nodes());
        let wave = if in_flight.is_empty() {
            match c.next_wave(&mut r, &names, say).await? {
                Step::Wave(wave) => wave,
                Step::Again => continue,
                Step::Finished(done) => {
                    say(&done.summary());
                    return Ok(*done);
                }
            }
        } else {
            say(&format!(
                "waiting for {} (admitted before)",
                named(&names, &in_flight)
            ));
            admit(store, &c.target, &in_flight).await?;
            in_flight
        };
        r = c.settle_wave(&wave, &names, say).await?;
        if r.is_finished() {
            say(&r.summary());
            return Ok(r);
        }
    }
}

impl Controller<'_> {
    /// With no node in flight: end an abort, admit the next wave, wait for nodes to stage
    /// a release, or complete when no node is left to admit.
    async fn next_wave(
        &mut self,
        r: &mut Rollout,
        names: &HashMap<String, String>,
        say: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Step, Error> {
        if r.phase == Phase::Aborting {
            let done = update(self.store, &|r| r.phase = Phase::Aborted).await?;
            return Ok(Step::Finished(Box::new(done)));
        }
        let (left, candidates) = self.candidates(r);
        if candidates.is_empty() {
            let until = *self.idle_since.get_or_insert_with(Instant::now) + self.node_timeout;
            if !left.is_empty() && Instant::now() < until {
                // A release not staged everywhere yet: the agents download it on their
                // own schedule. Wait for a node's record to change (or the time to run
                // out); an abort is a change of the rollout key, read again then.
                self.fleet.changed(until).await?;
                if self.fleet.take_rollout_changed() {
                    *r = match self.store.rollout().await? {
                        Some((fresh, _)) => fresh,
                        None => return Err(Error::RolloutDeleted),
                    };
                }
                return Ok(Step::Again);
            }
            let done = update(self.store, &|r| {
                if r.phase == Phase::Running {
                    r.phase = Phase::Completed;
                    r.not_staged.clone_from(&left);
                }
            })
            .await?;
            return Ok(Step::Finished(Box::new(done)));
        }
        self.idle_since = None;
        let wave: Vec<String> = candidates.into_iter().take(r.max_parallel).collect();
        // The rollout first, then the admissions: a controller killed in between finds
        // the nodes in flight when it starts again, and admits them again (idempotent).
        update(self.store, &|r| {
            r.admitted.extend(wave.iter().cloned());
            r.waves.push(wave.len());
        })
        .await?;
        admit(self.store, &self.target, &wave).await?;
        say(&format!("admitted {}", named(names, &wave)));
        Ok(Step::Wave(wave))
    }

    /// The reachable nodes not admitted and still to do (ids), and those of them ready to
    /// be admitted now, by hostname then id.
    fn candidates(&self, r: &Rollout) -> (Vec<String>, Vec<String>) {
        let left: Vec<(&Listed, &NodeRecord)> = self
            .fleet
            .nodes()
            .filter(|l| l.alive && !r.admitted.contains(&l.id))
            .filter_map(|l| l.record.as_ref().ok().map(|rec| (l, rec)))
            .filter(|(_, rec)| self.target.left(rec))
            .collect();
        let mut ready: Vec<(&str, &str)> = left
            .iter()
            .filter(|(_, rec)| self.target.ready(rec))
            .map(|(l, rec)| (rec.hostname.as_str(), l.id.as_str()))
            .collect();
        ready.sort_unstable();
        let ready = ready.into_iter().map(|(_, id)| id.to_string()).collect();
        (left.iter().map(|(l, _)| l.id.clone()).collect(), ready)
    }

    /// Wait for `wave`'s outcomes, say them, and write them to the rollout with the
    /// health gate's verdict.
    async fn settle_wave(
        &mut self,
        wave: &[String],
        names: &HashMap<String, String>,
        say: &mut (dyn FnMut(&str) + Send),
    ) -> Result<Rollout, Error> {
        let outcomes = wait_wave(&mut self.fleet, &self.target, wave, self.node_timeout).await?;
        for (id, o) in &outcomes {
            let name = names.get(id).unwrap_or(id);
            match o {
                Outcome::Done => say(&format!("{name} done")),
                Outcome::Failed(why) => say(&format!("{name} failed: {why}")),
            }
        }
        update(self.store, &|r| record_outcomes(r, &outcomes, names)).await
    }
}

/// Write a wave's outcomes into the rollout (once per node), and stop it when the failures
/// are more than its health gate tolerates; the reason names the node by its hostname
/// (`names`), as every other line of the controller does.
fn record_outcomes(
    r: &mut Rollout,
    outcomes: &[(String, Outcome)],
    names: &HashMap<String, String>,
) {
    for (id, o) in outcomes {
        if r.succeeded.contains(id) || r.failed.contains_key(id) {
            continue;
        }
        match o {
            Outcome::Done => r.succeeded.push(id.clone()),
            Outcome::Failed(why) => {
                r.failed.insert(id.clone(), why.clone());
            }
        }
    }
    if r.failed.len() > r.max_failures && r.phase == Phase::Running {
        let first = r.failed.keys().next().cloned().unwrap_or_default();
        let first = names.get(&first).cloned().unwrap_or(first);
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
}

/// Write the admission of every node of `wave`.
async fn admit(store: &FleetEtcd, target: &Target, wave: &[String]) -> Result<(), Error> {
    for id in wave {
        match target {
            Target::Config(g) => store.admit(id, *g).await?,
            Target::Release(v) => {
                let key = keys::admit_release(store.group(), id);
                store.put_raw(&key, v.clone().into_bytes()).await?;
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
) -> Result<Vec<(String, Outcome)>, Error> {
    let deadline = Instant::now() + limit;
    loop {
        let past = Instant::now() >= deadline;
        if past {
            fleet.resync().await?;
        }
        let out: Vec<(String, Option<Outcome>)> = wave
            .iter()
            .map(|id| (id.clone(), target.outcome(fleet.node(id), past)))
            .collect();
        if out.iter().all(|(_, o)| o.is_some()) || past {
            let silent = || Outcome::Failed(format!("did not report within {}s", limit.as_secs()));
            return Ok(out
                .into_iter()
                .map(|(id, o)| (id, o.unwrap_or_else(silent)))
                .collect());
        }
        fleet.changed(deadline).await?;
    }
}

/// What `fleet rollout create` asks for.
#[derive(Debug, Clone, Copy)]
pub struct Create<'a> {
    /// The OS release to roll out; `None`: the published (held) generation.
    pub release: Option<&'a str>,
    /// Serial or parallel.
    pub kind: Kind,
    /// With parallel: the most nodes admitted at once.
    pub max_parallel: usize,
    /// Failures tolerated (0: strict).
    pub max_failures: usize,
    /// Replace a finished rollout.
    pub replace: bool,
}

/// Create the group's rollout: of a release (a version name), or of the published
/// generation (which must be held). A rollout in progress is never replaced, a finished
/// one only when asked.
///
/// # Errors
/// Not a version, nothing (held) published, a rollout in its place, another created at the
/// same time, etcd.
pub async fn create(store: &FleetEtcd, ask: Create<'_>) -> Result<Rollout, Error> {
    let rollout = match ask.release {
        Some(version) => {
            if !is_version(version) {
                return Err(Error::NotARelease(version.to_string()));
            }
            Rollout::new_release(version, ask.kind, ask.max_parallel, ask.max_failures)
        }
        None => {
            let Some((published, _)) = store.published().await? else {
                return Err(Error::NothingHeld);
            };
            if !published.hold {
                return Err(Error::NotHeld(published.generation));
            }
            Rollout::new(
                published.generation,
                ask.kind,
                ask.max_parallel,
                ask.max_failures,
            )
        }
    };
    let revision = free_slot(store, ask.replace).await?;
    if !store.put_rollout(&rollout, revision).await? {
        return Err(Error::RolloutCreatedMeanwhile);
    }
    Ok(rollout)
}

/// Whether `version` can name a release (letters, digits, `._+-`, at most 128).
fn is_version(version: &str) -> bool {
    !version.is_empty()
        && version.len() <= 128
        && version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
}

/// The rollout key's revision when a new rollout may be written there (0: none); a rollout
/// in progress is never replaced, a finished one only with `replace`.
async fn free_slot(store: &FleetEtcd, replace: bool) -> Result<i64, Error> {
    match store.rollout().await? {
        Some((r, _)) if !r.is_finished() => Err(Error::RolloutInProgress(r.summary())),
        Some((_, rev)) if replace => Ok(rev),
        Some((r, _)) => Err(Error::RolloutFinished(r.summary())),
        None => Ok(0),
    }
}

/// Ask the rollout to stop admitting nodes.
///
/// # Errors
/// When etcd fails or there is no rollout.
pub async fn abort(store: &FleetEtcd) -> Result<Rollout, Error> {
    update(store, &|r| {
        if matches!(r.phase, Phase::Created) {
            r.phase = Phase::Aborted;
        } else if matches!(r.phase, Phase::Running) {
            r.phase = Phase::Aborting;
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::{Outcome, record_outcomes};
    use crate::fleet::rollout::{Kind, Phase, Rollout};

    #[test]
    fn the_strict_gate_names_the_failed_node_by_hostname() {
        let mut r = Rollout::new(2, Kind::Serial, 1, 0);
        r.phase = Phase::Running;
        let names = HashMap::from([("0123abcd".to_string(), "web-01".to_string())]);
        record_outcomes(
            &mut r,
            &[("0123abcd".into(), Outcome::Failed("health check".into()))],
            &names,
        );
        assert_eq!(
            r.phase,
            Phase::Stopped("strict health gate: web-01 failed".into())
        );
        // The rollout keeps the id (the JSON's key); only the words use the hostname.
        assert!(r.failed.contains_key("0123abcd"));
    }
}
