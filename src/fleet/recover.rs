//! Recovering a node: `kindling fleet rollout rollback NODE` writes a request at
//! `rollback/<id>` naming the fleet generation the node is to return to; the node's member
//! (which watches that key) checks it against what it saved and restores its files through
//! [`crate::apply::rollback`] (exactly the files it had before the last apply), then answers
//! in its record (`rollback`: restored or refused, and why) and deletes the request.
//!
//! The check on the node: the last fleet apply saved a generation (the files as they were
//! before it), that generation is still the latest one saved on the node (no `kindling
//! apply` or rollback happened since), and the request names the fleet generation the node
//! had before that apply. Anything else is refused with the reason, nothing restored.

use serde::{Deserialize, Serialize};

use super::error::{Error, ValueError};
use super::etcd::{FleetEtcd, encode};
use super::keys;
use super::local::Local;
use super::record::{NodeState, RollbackAnswer, now_secs};
use crate::root::Root;

/// A rollback request: `kindling/fleet/<group>/rollback/<id>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Request {
    /// The fleet generation to return to.
    pub to: u64,
    /// Unix seconds.
    pub requested_at: i64,
}

/// The name of the latest generation `kindling apply` saved in `root` (numbered
/// directories), if any.
#[must_use]
pub fn latest_saved(root: &Root) -> Option<String> {
    let dir = crate::apply::generations_dir(root).ok()?;
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .map(|n| n.to_string())
}

/// After an apply of a fleet generation from `previous`: what a rollback could restore
/// (`None` when the apply saved no generation, i.e. it changed nothing).
#[must_use]
pub fn after_apply(
    before: Option<&str>,
    after: Option<String>,
    previous: u64,
) -> Option<(u64, String)> {
    match after {
        Some(a) if before != Some(a.as_str()) => Some((previous, a)),
        _ => None,
    }
}

/// Why a node refuses a rollback request (nothing is restored then).
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// The request cannot be read.
    #[error(transparent)]
    Unreadable(#[from] ValueError),
    /// Nothing saved to return to (the generation the node is on).
    #[error(
        "this node has no saved generation to return to (it is on generation {0}, and its last fleet apply changed nothing or was rolled back already)"
    )]
    NothingSaved(u64),
    /// The request names another generation than the one saved.
    #[error(
        "the request names generation {asked}, but the files this node saved are those of generation {saved}"
    )]
    OtherGeneration {
        /// What the request names.
        asked: u64,
        /// What the node saved.
        saved: u64,
    },
    /// Something was applied or rolled back since the fleet apply saved its generation.
    #[error(
        "the latest saved generation here is {}, not {saved} (the one the fleet apply saved): something applied or rolled back on this node since; roll back by hand with `kindling apply --rollback`",
        latest.as_deref().unwrap_or("none")
    )]
    NotLatest {
        /// The latest generation saved on the node.
        latest: Option<String>,
        /// The one the fleet apply saved.
        saved: String,
    },
    /// The restore itself failed.
    #[error("the restore failed: {0}")]
    Failed(crate::apply::ApplyError),
}

impl Refused {
    /// The node's answer to the request at `revision`.
    #[must_use]
    pub fn answer(&self, revision: i64) -> RollbackAnswer {
        RollbackAnswer {
            revision,
            restored: false,
            message: format!("refused: {self}; nothing restored"),
        }
    }
}

/// Carry out `request` on the node (blocking: it writes files). Updates `local` and returns
/// the answer; a refusal changes nothing on the node.
pub fn restore(root: &Root, local: &mut Local, request: &Request, revision: i64) -> RollbackAnswer {
    match restore_saved(root, local, request) {
        Ok(what) => RollbackAnswer {
            revision,
            restored: true,
            message: what,
        },
        Err(refused) => refused.answer(revision),
    }
}

/// Check `request` against what the last fleet apply saved, then restore it; what was
/// done.
fn restore_saved(root: &Root, local: &mut Local, request: &Request) -> Result<String, Refused> {
    let (previous, saved) = local
        .rollback_to
        .clone()
        .ok_or(Refused::NothingSaved(local.generation))?;
    if request.to != previous {
        return Err(Refused::OtherGeneration {
            asked: request.to,
            saved: previous,
        });
    }
    let latest = latest_saved(root);
    if latest.as_deref() != Some(saved.as_str()) {
        return Err(Refused::NotLatest { latest, saved });
    }
    let paths = crate::apply::rollback(root).map_err(Refused::Failed)?;
    let what = format!(
        "restored generation {previous} at the operator's request ({} path(s): {})",
        paths.len(),
        paths.join(", ")
    );
    local.generation = previous;
    local.rollback_to = None;
    local.state = NodeState::RolledBack(what.clone());
    local.reboot_required.clear();
    local.reboot_boot_id = None;
    Ok(what)
}

/// A rollback request waiting for the node: the request (or why it cannot be read) and
/// its key's mod revision, which the answer names.
#[derive(Debug)]
pub struct Pending {
    /// The request, or why it cannot be used.
    pub request: Result<Request, ValueError>,
    /// The request key's mod revision.
    pub revision: i64,
}

/// The pending request for `id`, if any.
///
/// # Errors
/// When etcd fails.
pub async fn pending(store: &FleetEtcd, id: &str) -> Result<Option<Pending>, Error> {
    let resp = store.get(&keys::rollback(store.group(), id), 0).await?;
    Ok(resp.kvs().first().map(|kv| Pending {
        request: if kv.value().len() > 4096 {
            Err(ValueError::RequestTooLarge)
        } else {
            serde_json::from_slice(kv.value()).map_err(ValueError::NotARequest)
        },
        revision: kv.mod_revision(),
    }))
}

/// Delete the request at `revision` (a newer one stays).
///
/// # Errors
/// When etcd fails.
pub async fn clear(store: &FleetEtcd, id: &str, revision: i64) -> Result<(), Error> {
    let key = keys::rollback(store.group(), id);
    let delete = vec![etcd_client::TxnOp::delete(key.clone(), None)];
    store.when_unchanged(&key, revision, delete).await?;
    Ok(())
}

/// Ask node `id` to return to generation `to`; returns the request's revision (the node's
/// answer names it).
///
/// # Errors
/// When etcd fails.
pub async fn request(store: &FleetEtcd, id: &str, to: u64) -> Result<i64, Error> {
    let value = encode(&Request {
        to,
        requested_at: now_secs(),
    })?;
    store
        .put_raw(&keys::rollback(store.group(), id), value)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_an_apply_that_saved_a_generation_can_be_rolled_back() {
        assert_eq!(after_apply(Some("3"), Some("3".into()), 1), None);
        assert_eq!(after_apply(None, None, 1), None);
        assert_eq!(
            after_apply(Some("3"), Some("4".into()), 1),
            Some((1, "4".into()))
        );
        assert_eq!(
            after_apply(None, Some("1".into()), 0),
            Some((0, "1".into()))
        );
    }

    #[test]
    fn a_request_for_another_generation_is_refused_and_nothing_changes() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        let mut local = Local {
            generation: 2,
            rollback_to: Some((1, "1".into())),
            ..Local::default()
        };
        let before = local.clone();
        let ask = |local: &mut Local, to: u64, revision: i64| {
            let request = Request {
                to,
                requested_at: 0,
            };
            restore(&root, local, &request, revision)
        };
        let a = ask(&mut local, 0, 7);
        assert!(!a.restored && a.revision == 7, "{a:?}");
        assert!(a.message.contains("generation 0"), "{}", a.message);
        assert_eq!(local, before);
        // Named right, but the saved generation is gone (applied or rolled back by hand).
        let a = ask(&mut local, 1, 8);
        assert!(a.message.contains("by hand"), "{}", a.message);
        assert_eq!(local, before);
        local.rollback_to = None;
        let a = ask(&mut local, 1, 9);
        assert!(a.message.contains("no saved generation"), "{}", a.message);
    }
}
