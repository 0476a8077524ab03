//! The release gate: before an agent reboots into a staged release, it asks its fleet group
//! whether a release rollout governs that release, and if so waits (by watch) until the
//! rollout admits this node (`admit-release/<id>` holding the version). Only then come the
//! window and the lock, as for any reboot.
//!
//! A rollout governs a release when the group's rollout value names that release and is not
//! completed (created, running, aborting, aborted or stopped: a node that was not admitted
//! before an abort or a stopped health gate stays staged). A group whose rollout is a
//! config's, or another release's, or none, does not gate: the agent behaves as without a
//! fleet.
//!
//! Fail-closed: a fleet member that cannot read its group's rollout (etcd down, a value that
//! is not a rollout) does not reboot into a staged release. It cannot tell whether a rollout
//! governs it, and an unreachable coordinator must never turn into an uncoordinated reboot
//! (as with the reboot lock). It keeps trying, with a backoff, within the caller's limit.

use std::time::Duration;

use etcd_client::{EventType, WatchOptions};

use super::error::Error;
use super::etcd::FleetEtcd;
use super::join::Join;
use super::keys;
use super::rollout::{Phase, Rollout};
use crate::wait::sleep_within;

/// What the gate decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// No release rollout governs this release in this group.
    Free,
    /// The rollout admitted this node.
    Admitted(String),
    /// Not (yet) admitted, or the rollout could not be read, when the limit came.
    Waiting(String),
}

/// What one read of etcd found.
enum Found {
    Free,
    Admitted,
    NotYet { revision: i64, phase: String },
}

/// Whether `rollout` governs reboots into `version`.
#[must_use]
pub fn governs(rollout: &Rollout, version: &str) -> bool {
    rollout.release.as_deref() == Some(version) && rollout.phase != Phase::Completed
}

async fn read(store: &FleetEtcd, id: &str, version: &str) -> Result<Found, Error> {
    let Some((rollout, _)) = store.rollout().await? else {
        return Ok(Found::Free);
    };
    if !governs(&rollout, version) {
        return Ok(Found::Free);
    }
    let resp = store
        .get(&keys::admit_release(store.group(), id), 0)
        .await?;
    let revision = resp
        .header()
        .map_or(0, etcd_client::ResponseHeader::revision);
    let admitted = resp
        .kvs()
        .first()
        .is_some_and(|kv| kv.value().len() <= 256 && kv.value() == version.as_bytes());
    if admitted {
        return Ok(Found::Admitted);
    }
    Ok(Found::NotYet {
        revision,
        phase: rollout.phase_name(),
    })
}

/// Connect and read once, within 10 s.
async fn look(join: &Join, id: &str, version: &str) -> Result<(FleetEtcd, Found), Error> {
    let attempt = async {
        let store = FleetEtcd::connect(&join.etcd, &join.group).await?;
        let found = read(&store, id, version).await?;
        Ok::<_, Error>((store, found))
    };
    match tokio::time::timeout(Duration::from_secs(10), attempt).await {
        Ok(r) => r,
        Err(_) => Err(Error::NoAnswer),
    }
}

/// Wait until the node `id` may reboot into `version`: free (no rollout governs it) or
/// admitted. `give_up` bounds the wait (`None`: as long as it takes); `note` hears what the
/// node waits for (for its fleet record), `None` once it no longer waits.
pub async fn admission(
    join: &Join,
    id: &str,
    version: &str,
    give_up: Option<tokio::time::Instant>,
    note: &mut (dyn FnMut(Option<String>) + Send),
) -> Gate {
    let mut backoff = Duration::from_secs(1);
    loop {
        let (store, found) = match look(join, id, version).await {
            Ok(x) => x,
            Err(e) => {
                let why = format!(
                    "cannot read group {:?}'s rollout ({e}); not rebooting into {version} without admission",
                    join.group
                );
                note(Some(format!(
                    "waiting for admission to {version} (etcd unreachable)"
                )));
                if !sleep_within(backoff, give_up).await {
                    return Gate::Waiting(why);
                }
                backoff = (backoff * 2).min(Duration::from_secs(60));
                continue;
            }
        };
        backoff = Duration::from_secs(1);
        let (revision, phase) = match found {
            Found::Free => {
                note(None);
                return Gate::Free;
            }
            Found::Admitted => {
                note(Some(format!("admitted to {version}")));
                return Gate::Admitted(format!(
                    "the release rollout of group {:?} admitted this node to {version}",
                    join.group
                ));
            }
            Found::NotYet { revision, phase } => (revision, phase),
        };
        note(Some(format!("waiting for admission to {version}")));
        let waiting = format!(
            "the release rollout of group {:?} ({phase}) has not admitted this node to {version}",
            join.group
        );
        let watch = Watch {
            store: &store,
            id,
            revision,
            backoff,
            give_up,
        };
        if let Some(gate) = watch.until_change(waiting).await {
            return gate;
        }
    }
}

/// A wait for the admission or the rollout to change, from just after what was read.
struct Watch<'a> {
    store: &'a FleetEtcd,
    id: &'a str,
    revision: i64,
    backoff: Duration,
    give_up: Option<tokio::time::Instant>,
}

impl Watch<'_> {
    /// Watch the admission and the rollout from just after what was read: any change
    /// (admitted, rollout replaced, completed or deleted) means reading again (`None`).
    /// `Some` is the verdict when `give_up` came first (still `waiting`).
    async fn until_change(&self, waiting: String) -> Option<Gate> {
        let group = self.store.group();
        let mut client = self.store.client();
        let options = WatchOptions::new().with_start_revision(self.revision + 1);
        let watched = async {
            let mut stream = client
                .watch(keys::admit_release(group, self.id), Some(options.clone()))
                .await?;
            stream.watch(keys::rollout(group), Some(options)).await?;
            Ok::<_, etcd_client::Error>(stream)
        };
        let mut stream = match watched.await {
            Ok(w) => w,
            Err(e) => {
                return self.pause(format!("{waiting}; etcd watch: {e}")).await;
            }
        };
        // A re-read every 5 minutes besides the watch: a watch on a connection that died
        // silently (a partition) is not trusted forever.
        let recheck = tokio::time::Instant::now() + Duration::from_secs(300);
        let until = self.give_up.map_or(recheck, |g| g.min(recheck));
        loop {
            match tokio::time::timeout_at(until, stream.message()).await {
                Err(_) => {
                    let gave_up = self
                        .give_up
                        .is_some_and(|g| tokio::time::Instant::now() >= g);
                    return gave_up.then_some(Gate::Waiting(waiting));
                }
                Ok(Ok(Some(m))) if m.canceled() => return None,
                Ok(Ok(Some(m))) => {
                    if m.events()
                        .iter()
                        .any(|e| matches!(e.event_type(), EventType::Put | EventType::Delete))
                    {
                        return None;
                    }
                }
                // The watch ended (etcd went away): read again after a pause.
                Ok(Ok(None) | Err(_)) => return self.pause(waiting).await,
            }
        }
    }

    /// Pause for the backoff before reading again (`None`), unless `give_up` comes first.
    async fn pause(&self, waiting: String) -> Option<Gate> {
        if sleep_within(self.backoff, self.give_up).await {
            None
        } else {
            Some(Gate::Waiting(waiting))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fleet::rollout::Kind;

    #[test]
    fn only_an_unfinished_rollout_of_the_staged_release_governs() {
        let mut r = Rollout::new_release("1.0.1", Kind::Parallel, 2, 0);
        assert!(governs(&r, "1.0.1"));
        assert!(!governs(&r, "1.0.2"));
        for phase in [Phase::Running, Phase::Aborted, Phase::Stopped("x".into())] {
            r.phase = phase;
            assert!(governs(&r, "1.0.1"));
        }
        r.phase = Phase::Completed;
        assert!(!governs(&r, "1.0.1"));
        let config = Rollout::new(3, Kind::Serial, 1, 0);
        assert!(!governs(&config, "1.0.1"));
    }
}
