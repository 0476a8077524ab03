//! A local copy of one group's node records, liveness keys and published generation, kept
//! current by one etcd watch on the group's prefix: read once (one consistent snapshot, every
//! page at one revision), then watch from the next revision and apply each event as it comes.
//! This is the one place where the operator side waits on the fleet (`fleet status --watch`,
//! the rollout controller, `fleet rollout rollback`): etcd then sends only what changed,
//! instead of the whole group being re-read every few hundred milliseconds (at 10,000 nodes,
//! megabytes each time).
//!
//! It never writes etcd and owns no state that matters once it is dropped: whoever waits on
//! it keeps its own state in etcd (the rollout value, compare-and-swap), so a mirror is
//! rebuilt from nothing by a restarted command. A lease that expires deletes the node's
//! `live/` key, which is an event like any other, so an unreachable node is seen at once.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use etcd_client::{EventType, WatchOptions, WatchResponse, WatchStream};
use tokio::time::Instant;

use super::error::Error;
use super::etcd::FleetEtcd;
use super::keys;
use super::listing::Listed;
use super::record::Published;

/// How long the mirror trusts its watch alone. A watch on a connection that died silently
/// (a partition, a half-open TCP connection) would never report again, and a rollout
/// would then wait on a picture that no longer moves; so the group is read again from
/// scratch (and the watch started again) this often while something waits. Once a
/// minute is two orders of magnitude fewer reads than the old 200 ms polling, and still
/// short against a wave's node timeout (600 s by default). Deadlines (a node timeout) need
/// no tick at all: a wait wakes up at its deadline by itself.
const RESYNC: Duration = Duration::from_secs(60);

/// One group's fleet as of the last event seen.
pub struct Mirror {
    store: FleetEtcd,
    prefix: String,
    nodes: BTreeMap<String, Listed>,
    live: HashSet<String>,
    published: u64,
    rollout_changed: bool,
    stream: WatchStream,
    /// The watch ended or failed while draining: read everything again before waiting.
    broken: bool,
    resync_at: Instant,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("group", &self.store.group())
            .field("nodes", &self.nodes.len())
            .finish_non_exhaustive()
    }
}

/// The snapshot part of a mirror.
struct Snapshot {
    nodes: BTreeMap<String, Listed>,
    live: HashSet<String>,
    published: u64,
    stream: WatchStream,
}

/// Read the group at one revision and start the watch from the revision after it, so no
/// change falls between the read and the watch.
async fn snapshot(store: &FleetEtcd, prefix: &str) -> Result<Snapshot, Error> {
    let (records, revision) = store.range_at(&format!("{prefix}node/"), false, 0).await?;
    let (live_prefix, config_key) = (format!("{prefix}live/"), keys::config(store.group()));
    let (live, config) = tokio::try_join!(
        store.range_at(&live_prefix, true, revision),
        store.value_at(&config_key, revision)
    )?;
    let live: HashSet<String> = live
        .0
        .iter()
        .map(|(k, _)| keys::id_of(k).to_string())
        .collect();
    let nodes = records
        .iter()
        .map(|(k, v)| {
            let listed = Listed::read(k, v, store.group(), &live);
            (listed.id.clone(), listed)
        })
        .collect();
    let published = match config {
        Some(bytes) => Published::parse(&bytes)?.generation,
        None => 0,
    };
    let stream = store
        .client()
        .watch(
            prefix,
            Some(
                WatchOptions::new()
                    .with_prefix()
                    .with_start_revision(revision + 1),
            ),
        )
        .await
        .map_err(Error::Watch)?;
    Ok(Snapshot {
        nodes,
        live,
        published,
        stream,
    })
}

impl Mirror {
    /// Read the group once and start watching it.
    ///
    /// # Errors
    /// When etcd fails or the published config cannot be read.
    pub async fn open(store: &FleetEtcd) -> Result<Mirror, Error> {
        let prefix = keys::group_prefix(store.group());
        let s = snapshot(store, &prefix).await?;
        Ok(Mirror {
            store: store.clone(),
            prefix,
            nodes: s.nodes,
            live: s.live,
            published: s.published,
            rollout_changed: false,
            stream: s.stream,
            broken: false,
            resync_at: Instant::now() + RESYNC,
        })
    }

    /// Read everything again and restart the watch: before a verdict at a deadline, so "did
    /// not report" never rests on a watch whose connection may have died silently.
    ///
    /// # Errors
    /// When etcd fails.
    pub async fn resync(&mut self) -> Result<(), Error> {
        let s = snapshot(&self.store, &self.prefix).await?;
        self.nodes = s.nodes;
        self.live = s.live;
        self.published = s.published;
        self.stream = s.stream;
        // Whatever happened to the rollout while the watch was not trusted is unknown.
        self.rollout_changed = true;
        self.broken = false;
        self.resync_at = Instant::now() + RESYNC;
        Ok(())
    }

    /// One node, by id (as in its key).
    #[must_use]
    pub fn node(&self, id: &str) -> Option<&Listed> {
        self.nodes.get(id)
    }

    /// Every node, sorted by id.
    pub fn nodes(&self) -> impl Iterator<Item = &Listed> {
        self.nodes.values()
    }

    /// Every node, sorted by id, as [`FleetEtcd::nodes`] lists them.
    #[must_use]
    pub fn listed(&self) -> Vec<Listed> {
        self.nodes.values().cloned().collect()
    }

    /// The published generation (0: none).
    #[must_use]
    pub fn published(&self) -> u64 {
        self.published
    }

    /// Whether the rollout key changed (or may have) since the last call; resets it.
    pub fn take_rollout_changed(&mut self) -> bool {
        std::mem::take(&mut self.rollout_changed)
    }

    /// Apply the events already received, without waiting.
    ///
    /// # Errors
    /// As [`Mirror::changed`].
    pub async fn catch_up(&mut self) -> Result<(), Error> {
        self.changed(Instant::now()).await.map(|_| ())
    }

    /// Wait until something the mirror holds changed (a node record, a liveness key, the
    /// published config, the rollout key), or until `until`: true when something changed.
    /// The events that arrived together are applied together (a wave reports in bursts).
    ///
    /// # Errors
    /// When the watch failed and the group cannot be read again.
    pub async fn changed(&mut self, until: Instant) -> Result<bool, Error> {
        loop {
            if self.broken || Instant::now() >= self.resync_at {
                self.resync().await?;
                return Ok(true);
            }
            let wake = until.min(self.resync_at);
            let Ok(got) = tokio::time::timeout_at(wake, self.stream.message()).await else {
                if Instant::now() >= self.resync_at {
                    continue;
                }
                return Ok(false);
            };
            let mut changed = match got {
                Ok(Some(m)) if !m.canceled() => self.apply(&m),
                // Cancelled (its revision was compacted), ended or failed: start over.
                _ => {
                    self.broken = true;
                    continue;
                }
            };
            // Whatever else is already here belongs to the same burst.
            loop {
                match tokio::time::timeout(Duration::ZERO, self.stream.message()).await {
                    Err(_) => break,
                    Ok(Ok(Some(m))) if !m.canceled() => changed |= self.apply(&m),
                    Ok(_) => {
                        self.broken = true;
                        break;
                    }
                }
            }
            if changed || self.broken {
                return Ok(true);
            }
            if Instant::now() >= until {
                return Ok(false);
            }
        }
    }

    /// Apply one watch message; true when something the mirror holds changed.
    fn apply(&mut self, m: &WatchResponse) -> bool {
        let mut changed = false;
        for event in m.events() {
            let Some(kv) = event.kv() else { continue };
            let key = String::from_utf8_lossy(kv.key());
            let Some(rest) = key.strip_prefix(self.prefix.as_str()) else {
                continue;
            };
            let put = event.event_type() == EventType::Put;
            // The id as `FleetEtcd::nodes` takes it: the key's last part.
            let id = keys::id_of(rest);
            if rest.starts_with("node/") {
                changed = true;
                if put {
                    let listed = Listed::read(rest, kv.value(), self.store.group(), &self.live);
                    self.nodes.insert(id.to_string(), listed);
                } else {
                    self.nodes.remove(id);
                }
            } else if rest.starts_with("live/") {
                changed = true;
                if put {
                    self.live.insert(id.to_string());
                } else {
                    self.live.remove(id);
                }
                if let Some(l) = self.nodes.get_mut(id) {
                    l.alive = put;
                }
            } else if rest == "config" {
                changed = true;
                if !put {
                    self.published = 0;
                } else if let Ok(p) = Published::parse(kv.value()) {
                    self.published = p.generation;
                } else {
                    // Read it again: the snapshot reports why it cannot be used.
                    self.broken = true;
                }
            } else if rest == "rollout" {
                changed = true;
                self.rollout_changed = true;
            }
        }
        changed
    }
}
