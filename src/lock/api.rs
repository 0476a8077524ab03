//! The lock's vocabulary, shared by every backend and the server: the [`RebootLock`] trait
//! and its boxed future, the outcomes ([`Acquired`], [`Released`], [`Reattached`]), the
//! semaphore as read ([`Status`], [`Holder`]), [`LockError`], and the small helpers the
//! backends share (Go's query escaping of group names and holder ids, the sorted holder
//! list, the per-holder record kept beside the semaphore).

use std::future::Future;
use std::pin::Pin;

/// What every lock operation returns: a boxed, `Send` future (see the module docs).
pub type LockFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, LockError>> + Send + 'a>>;

/// The outcome of a successful `lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Acquired {
    /// This call took a slot.
    Locked,
    /// The holder already had one (nothing changed, or its liveness was refreshed).
    AlreadyHeld,
}

/// The outcome of a successful [`RebootLock::reattach`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reattached {
    /// The hold's liveness was renewed (etcd v3: a new lease, the live key on it).
    Renewed,
    /// The holder has no slot (any more): nothing was taken.
    NotHeld,
    /// The backend's holds have no liveness to renew (etcd v2, FleetLock, etcd v3 without
    /// a lease TTL): they stay until unlocked.
    Unneeded,
}

/// The outcome of a successful `unlock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Released {
    /// This call gave a slot back.
    Unlocked,
    /// The holder had none (not an error: the agent calls unlock after every boot).
    NotHeld,
}

/// One holder of a slot.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Holder {
    /// Its id (a machine-id for locksmith, the node's id for FleetLock).
    pub id: String,
    /// When it took the slot, when known (holds taken by locksmithctl or Airlock carry none).
    pub since: Option<jiff::Timestamp>,
    /// The last state it recorded (`locked`, `rebooting`, ...), when known.
    pub state: Option<String>,
    /// Whether its lease is alive (etcd v3 holders that keep one); `None` for holds without
    /// a lease, which never expire.
    pub alive: Option<bool>,
}

/// The semaphore as it is now.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Status {
    /// Slots in total.
    pub max: i64,
    /// Free slots; negative when the maximum was lowered below the number of holders.
    pub available: i64,
    /// The holders, sorted by id.
    pub holders: Vec<Holder>,
}

/// Why a lock operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LockError {
    /// Every slot is taken (locksmith's wording, which scripts match on).
    #[error("semaphore is at {available}")]
    Full {
        /// Slots in total.
        max: i64,
        /// Free slots (zero or negative).
        available: i64,
    },
    /// No endpoint answered.
    #[error("{0}")]
    Unavailable(String),
    /// The FleetLock server refused, with its `{"kind", "value"}` error.
    #[error("server-side error, code {status}: {value}")]
    Remote {
        /// The HTTP status.
        status: u16,
        /// The error's kind (`failed_lock`, ...).
        kind: String,
        /// Its text.
        value: String,
    },
    /// The backend answered something that is not the semaphore (bad JSON, an error code).
    #[error("{0}")]
    Protocol(String),
    /// The semaphore kept changing under us (bounded retries of the compare-and-swap).
    #[error("the semaphore changed {0} times in a row while updating it; try again")]
    Conflict(u32),
    /// `wait_lock` reached its deadline.
    #[error("no slot became free before the deadline")]
    Timeout,
    /// The configuration cannot work (bad TLS files, bad URL).
    #[error("{0}")]
    Config(String),
    /// The backend cannot do this (e.g. `set-max` over FleetLock).
    #[error("{0}")]
    Unsupported(String),
}

impl LockError {
    /// Whether waiting and trying again may succeed (the lock is busy, or a server is down).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LockError::Full { .. }
                | LockError::Unavailable(_)
                | LockError::Remote { .. }
                | LockError::Conflict(_)
        )
    }
}

/// `text` (an etcd failure) with a hint added when it reads as a cluster without a quorum:
/// a member that has no leader, or members that did not answer in time. etcd answers reads
/// and writes only while a majority of its members are up and reach each other, so an
/// operator who sees every member time out has to look at the cluster, not at the node.
#[must_use]
pub fn with_quorum_hint(text: String) -> String {
    let lower = text.to_ascii_lowercase();
    let no_quorum = ["no leader", "timed out", "deadline", "stopped answering"]
        .iter()
        .any(|t| lower.contains(t));
    if no_quorum && !lower.contains("hint: no member") {
        format!(
            "{text}; hint: no member answered for the cluster: etcd answers only while a \
             majority of its members are up and reach each other (check `etcdctl endpoint \
             status --cluster` and the members' logs)"
        )
    } else {
        text
    }
}

/// The reboot lock, whatever its backend. See the module docs for the contract.
pub trait RebootLock: Send + Sync + std::fmt::Debug {
    /// A one-line description for logs: backend, endpoint, group.
    fn describe(&self) -> String;

    /// Take a slot for `id` (idempotent: a holder gets [`Acquired::AlreadyHeld`]).
    fn lock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Acquired>;

    /// Give `id`'s slot back (idempotent: not holding is [`Released::NotHeld`]).
    fn unlock<'a>(&'a self, id: &'a str) -> LockFuture<'a, Released>;

    /// The semaphore: max, available, holders.
    fn status(&self) -> LockFuture<'_, Status>;

    /// Set the number of slots; returns the old maximum. Holders are never dropped: a
    /// maximum below the holder count leaves `available` negative until they unlock.
    fn set_max(&self, max: i64) -> LockFuture<'_, i64>;

    /// Take a slot for `id`, waiting (by watch) until one is free or `deadline` passes
    /// ([`LockError::Timeout`]). Transient backend errors are retried until the deadline.
    fn wait_lock<'a>(
        &'a self,
        id: &'a str,
        deadline: tokio::time::Instant,
    ) -> LockFuture<'a, Acquired>;

    /// Record `id`'s state (`rebooting`, `waiting-health`, ...) for operators' `status`;
    /// a no-op where the backend has nowhere to keep it (FleetLock).
    fn set_state<'a>(&'a self, id: &'a str, state: &'a str) -> LockFuture<'a, ()>;

    /// Renew the liveness of a hold `id` kept across a restart (the agent's first step after
    /// a reboot), for as long as this lock object lives, without ever taking a slot: `lock`
    /// would take one when the hold was lost meanwhile. The default is for backends whose
    /// holds have no liveness.
    fn reattach<'a>(&'a self, id: &'a str) -> LockFuture<'a, Reattached> {
        let _ = id;
        Box::pin(async { Ok(Reattached::Unneeded) })
    }
}

/// One try at taking a slot (etcd v2 and v3, which can watch for a change).
#[derive(Debug)]
pub(super) enum Attempt<P> {
    /// Taken, or held already.
    Taken(Acquired),
    /// Every slot is taken ([`LockError::Full`]); `P` is where to watch for a change from.
    Full(LockError, P),
}

impl<P> Attempt<P> {
    /// The outcome of `lock`: a full semaphore is its error.
    pub(super) fn outcome(self) -> Result<Acquired, LockError> {
        match self {
            Attempt::Taken(acquired) => Ok(acquired),
            Attempt::Full(error, _) => Err(error),
        }
    }
}

/// How many lost compare-and-swaps in a row before an operation gives up.
const MAX_CONFLICTS: u32 = 64;

/// Runs `attempt` (one read, change and compare-and-swap) until it settles (`Some`): a
/// `None` is a lost race, tried again, at most [`MAX_CONFLICTS`] times.
pub(super) async fn until_settled<T, A>(mut attempt: impl FnMut() -> A) -> Result<T, LockError>
where
    A: Future<Output = Result<Option<T>, LockError>>,
{
    for _ in 0..MAX_CONFLICTS {
        if let Some(settled) = attempt().await? {
            return Ok(settled);
        }
    }
    Err(LockError::Conflict(MAX_CONFLICTS))
}

/// [`RebootLock::wait_lock`] for backends that watch: `attempt` tries once; while the
/// semaphore is full, `wait` blocks until it changes after the position (or `deadline`),
/// given when the attempt ended. An unreachable backend has nothing to watch (an attempt or
/// a watch failing with a transient error, e.g. a restarting etcd), so it is tried again
/// every second until the deadline: every backend's `wait_lock` survives an etcd restart.
pub(super) async fn wait_for_slot<P, A, W>(
    deadline: tokio::time::Instant,
    mut attempt: impl FnMut() -> A,
    mut wait: impl FnMut(P, tokio::time::Instant) -> W,
) -> Result<Acquired, LockError>
where
    A: Future<Output = Result<Attempt<P>, LockError>>,
    W: Future<Output = Result<(), LockError>>,
{
    loop {
        let attempt = attempt().await;
        let now = tokio::time::Instant::now();
        match attempt {
            Ok(Attempt::Taken(acquired)) => return Ok(acquired),
            Ok(Attempt::Full(_, position)) => {
                if now >= deadline {
                    return Err(LockError::Timeout);
                }
                match wait(position, now).await {
                    // The watch broke on an unreachable backend (a restarting etcd): pause up
                    // to a second from the attempt's end, then try again, until the deadline.
                    Err(e) if e.is_transient() => {
                        tokio::time::sleep_until(
                            deadline.min(now + std::time::Duration::from_secs(1)),
                        )
                        .await;
                    }
                    other => other?,
                }
            }
            Err(e) if e.is_transient() && now < deadline => {
                tokio::time::sleep_until(deadline.min(now + std::time::Duration::from_secs(1)))
                    .await;
            }
            Err(e) if e.is_transient() => return Err(LockError::Timeout),
            Err(e) => return Err(e),
        }
    }
}

/// Go's `url.QueryEscape`, which locksmith and Airlock use for group names in keys: letters,
/// digits and `-_.~` stay, a space becomes `+`, every other byte `%XX`.
#[must_use]
pub fn query_escape(text: &str) -> String {
    // A blank is kept through the encoder and written as `+` (a `+` itself is `%2B`).
    crate::encoding::percent_encode(text.as_bytes(), b"-_.~ ").replace(' ', "+")
}

/// A sorted holder list with `id` inserted (when absent).
pub(super) fn insert_sorted(holders: &mut Vec<String>, id: &str) -> bool {
    match holders.binary_search_by(|h| h.as_str().cmp(id)) {
        Ok(_) => false,
        Err(at) => {
            holders.insert(at, id.to_string());
            true
        }
    }
}

/// Per-holder details kindling keeps beside the semaphore (never inside it, so locksmith and
/// Airlock, which rewrite the semaphore without unknown fields, cannot lose them).
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub(super) struct HolderRecord {
    pub(super) since: Option<jiff::Timestamp>,
    #[serde(default)]
    pub(super) state: Option<String>,
    /// Whether the holder keeps a lease (etcd v3): only such holders can expire.
    #[serde(default)]
    pub(super) leased: bool,
}

/// Undo [`query_escape`] for ids read back from keys (`+` is a space, `%XX` a byte; a
/// malformed escape is kept as it is).
#[must_use]
pub fn query_unescape(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| char::from(c).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_escape_as_go() {
        assert_eq!(
            ["lb servers", "lb/x", "a.b-c_d~e", "ü"].map(query_escape),
            ["lb+servers", "lb%2Fx", "a.b-c_d~e", "%C3%BC"]
        );
    }

    #[test]
    fn full_reads_as_locksmith() {
        let e = LockError::Full {
            max: 1,
            available: 0,
        };
        assert_eq!(e.to_string(), "semaphore is at 0");
    }

    #[test]
    fn the_quorum_hint_is_for_timeouts_and_no_leader_only_and_added_once() {
        let refused =
            "client: etcd cluster is unavailable or misconfigured (tried a: Connection refused)";
        assert_eq!(with_quorum_hint(refused.to_string()), refused);
        let hinted = with_quorum_hint("etcdserver: no leader".to_string());
        assert!(hinted.contains("majority of its members"), "{hinted}");
        assert_eq!(with_quorum_hint(hinted.clone()), hinted);
        assert!(with_quorum_hint("a: operation timed out".to_string()).contains("hint:"));
    }
}
