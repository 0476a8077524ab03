//! Orchestrated rollout of a held config (StarlingX's `sw-manager patch-strategy`): the
//! rollout is a value in etcd, and `fleet rollout apply` is its controller. It admits nodes
//! in waves (serial: one at a time; parallel: at most `max_parallel`), waits for every node
//! of a wave to report the generation applied (or failed, or unreachable), applies the
//! health gate (`strict`: stop at the first failure; `relaxed`: tolerate up to K), and only
//! then starts the next wave. An abort stops admitting; the nodes of the wave in flight are
//! waited for, so every node ends in a reported, consistent state (old generation, new
//! generation, or rolled back to the old one by its own health check).
//!
//! The controller keeps no state of its own: every step is written to the rollout value
//! (compare-and-swap), so `rollout show` sees it and a controller that was killed can be
//! started again and resumes.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::record::now_secs;
use super::store::Store;

/// How nodes are admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One node at a time.
    Serial,
    /// Up to `max_parallel` at a time.
    Parallel,
}

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Phase {
    /// Created, not started.
    Created,
    /// A controller is admitting waves.
    Running,
    /// Abort asked; the controller finishes the wave in flight and stops.
    Aborting,
    /// Aborted; no more nodes are admitted.
    Aborted,
    /// The health gate stopped it.
    Stopped(String),
    /// Every reachable node has the generation.
    Completed,
}

/// A rollout: `kindling/fleet/<group>/rollout`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rollout {
    /// The generation rolled out.
    pub generation: u64,
    /// Serial or parallel.
    pub kind: Kind,
    /// The most nodes admitted at once.
    pub max_parallel: usize,
    /// Failures tolerated (0: strict).
    pub max_failures: usize,
    /// Where it is.
    pub phase: Phase,
    /// Nodes admitted, in order.
    pub admitted: Vec<String>,
    /// Nodes that reported the generation applied.
    pub succeeded: Vec<String>,
    /// Nodes that failed, with why.
    pub failed: BTreeMap<String, String>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
}

impl Rollout {
    /// A new rollout of `generation`.
    #[must_use]
    pub fn new(generation: u64, kind: Kind, max_parallel: usize, max_failures: usize) -> Rollout {
        let now = now_secs();
        Rollout {
            generation,
            kind,
            max_parallel: if kind == Kind::Serial {
                1
            } else {
                max_parallel.max(1)
            },
            max_failures,
            phase: Phase::Created,
            admitted: Vec::new(),
            succeeded: Vec::new(),
            failed: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether nothing more will happen.
    #[must_use]
    pub fn is_finished(&self) -> bool {
        matches!(
            self.phase,
            Phase::Aborted | Phase::Stopped(_) | Phase::Completed
        )
    }

    /// A one-line account.
    #[must_use]
    pub fn summary(&self) -> String {
        let phase = match &self.phase {
            Phase::Created => "created".to_string(),
            Phase::Running => "running".to_string(),
            Phase::Aborting => "aborting".to_string(),
            Phase::Aborted => "aborted".to_string(),
            Phase::Stopped(why) => format!("stopped ({why})"),
            Phase::Completed => "completed".to_string(),
        };
        let gate = if self.max_failures == 0 {
            "strict".to_string()
        } else {
            format!("relaxed:{}", self.max_failures)
        };
        format!(
            "rollout of generation {}: {phase}; {:?} at most {} at once, gate {gate}; {} admitted, {} applied, {} failed",
            self.generation,
            self.kind,
            self.max_parallel,
            self.admitted.len(),
            self.succeeded.len(),
            self.failed.len()
        )
        .replace("Serial", "serial")
        .replace("Parallel", "parallel")
    }
}

/// Write `change`d rollout with compare-and-swap, re-reading on a conflict (an abort written
/// meanwhile is kept: the change is re-applied to the fresh value).
async fn update(store: &Store, change: &dyn Fn(&mut Rollout)) -> Result<Rollout, String> {
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

/// Run the rollout to its end (the controller): waves, health gate, abort. `node_timeout`
/// bounds the wait for one wave; `say` gets a line per step.
///
/// # Errors
/// When etcd fails or there is no rollout.
pub async fn run(
    store: &Store,
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
    let g = r.generation;
    let mut r = update(store, &|r| {
        if r.phase == Phase::Created {
            r.phase = Phase::Running;
        }
    })
    .await?;
    loop {
        if r.phase == Phase::Aborting {
            let done = update(store, &|r| r.phase = Phase::Aborted).await?;
            say(&done.summary());
            return Ok(done);
        }
        let nodes = store.nodes().await?;
        let mut candidates: Vec<(String, String)> = nodes
            .iter()
            .filter(|l| l.alive && !r.admitted.contains(&l.id))
            .filter_map(|l| l.record.as_ref().ok().map(|rec| (l, rec)))
            .filter(|(_, rec)| rec.generation != g)
            .map(|(l, rec)| (rec.hostname.clone(), l.id.clone()))
            .collect();
        candidates.sort();
        if candidates.is_empty() {
            let done = update(store, &|r| {
                if r.phase == Phase::Running {
                    r.phase = Phase::Completed;
                }
            })
            .await?;
            say(&done.summary());
            return Ok(done);
        }
        let wave: Vec<String> = candidates
            .into_iter()
            .take(r.max_parallel)
            .map(|(_, id)| id)
            .collect();
        for id in &wave {
            store.admit(id, g).await?;
        }
        update(store, &|r| r.admitted.extend(wave.iter().cloned())).await?;
        say(&format!("admitted {}", wave.join(", ")));
        let outcomes = wait_wave(store, g, &wave, node_timeout).await?;
        let failed_now: Vec<(String, String)> = outcomes
            .iter()
            .filter_map(|(id, o)| o.clone().err().map(|why| (id.clone(), why)))
            .collect();
        for (id, why) in &failed_now {
            say(&format!("{id} failed: {why}"));
        }
        r = update(store, &|r| {
            for (id, o) in &outcomes {
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

/// Wait until every node of the wave reports the generation applied, failed, or stops
/// being reachable; bounded by `limit`.
async fn wait_wave(
    store: &Store,
    generation: u64,
    wave: &[String],
    limit: Duration,
) -> Result<Vec<(String, Result<(), String>)>, String> {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let nodes = store.nodes().await?;
        let mut out = Vec::new();
        for id in wave {
            let listed = nodes.iter().find(|l| &l.id == id);
            let outcome = match listed {
                None => Some(Err("its record disappeared".to_string())),
                Some(l) if !l.alive => Some(Err("unreachable (its lease expired)".to_string())),
                Some(l) => match &l.record {
                    Err(why) => Some(Err(format!("invalid record: {why}"))),
                    Ok(rec) if rec.target_generation == generation && rec.state.is_failure() => {
                        Some(Err(format!(
                            "{}: {}",
                            rec.state.name(),
                            rec.state.reason().unwrap_or("")
                        )))
                    }
                    Ok(rec) if rec.generation == generation && rec.state.is_success() => {
                        Some(Ok(()))
                    }
                    Ok(_) => None,
                },
            };
            out.push((id.clone(), outcome));
        }
        if out.iter().all(|(_, o)| o.is_some()) {
            return Ok(out
                .into_iter()
                .map(|(id, o)| (id, o.unwrap_or(Ok(()))))
                .collect());
        }
        if tokio::time::Instant::now() >= deadline {
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
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Ask the rollout to stop admitting nodes.
///
/// # Errors
/// When etcd fails or there is no rollout.
pub async fn abort(store: &Store) -> Result<Rollout, String> {
    update(store, &|r| {
        if matches!(r.phase, Phase::Created) {
            r.phase = Phase::Aborted;
        } else if matches!(r.phase, Phase::Running) {
            r.phase = Phase::Aborting;
        }
    })
    .await
}
