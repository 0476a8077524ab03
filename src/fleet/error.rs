//! What the fleet can fail with ([`Error`]) and what is wrong with a value read from etcd
//! ([`ValueError`]). Each variant carries what the user needs to act (the group, the node,
//! the generation, etcd's own error), and its `Display` is the message the command line
//! prints (behind `kindling: `); [`Error::is_refusal`] tells a request the fleet's rules
//! refuse (exit status 1) from a fleet that could not be reached or read (status 2).

use super::join::JoinError;
use super::keys::{MAX_CONFIG_BYTES, MAX_DIGEST_ENTRIES, MAX_RECORD_BYTES};
use super::vars::Invalid;

/// Why a fleet operation failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// etcd could not be reached.
    #[error("{0}")]
    Lock(#[from] crate::lock::LockError),
    /// A read or write failed.
    #[error("etcd: {}", crate::lock::etcd3_error_text(.0))]
    Etcd(#[from] etcd_client::Error),
    /// A watch could not be started or failed.
    #[error("etcd watch: {}", crate::lock::etcd3_error_text(.0))]
    Watch(etcd_client::Error),
    /// The member's watch ended.
    #[error("the fleet watch ended")]
    WatchEnded,
    /// The liveness lease could not be granted or kept alive.
    #[error("etcd lease: {0}")]
    Lease(etcd_client::Error),
    /// A keep-alive was not answered within its period (a frozen etcd).
    #[error("etcd did not answer a lease keep-alive in time")]
    LeaseUnanswered,
    /// The lease is gone.
    #[error("the fleet lease expired (etcd was out of reach)")]
    LeaseExpired,
    /// The task keeping the lease alive ended without saying why.
    #[error("the fleet lease keeper stopped")]
    KeeperStopped,
    /// etcd did not answer the release gate in time.
    #[error("etcd did not answer within 10 s")]
    NoAnswer,
    /// A value read from etcd cannot be used.
    #[error(transparent)]
    Value(#[from] ValueError),
    /// A value could not be encoded, or a task of the member died.
    #[error("internal error: {0}")]
    Internal(String),
    /// The node's memory (`fleet.json`) could not be placed in its root.
    #[error("{0}")]
    Root(#[from] crate::root::RootError),
    /// The node's memory could not be written.
    #[error("{0}")]
    Apply(#[from] crate::apply::ApplyError),
    /// The node's memory could not be encoded.
    #[error("{0}")]
    Memory(serde_json::Error),
    /// The fleet settings in update.conf cannot be understood.
    #[error(transparent)]
    Join(#[from] JoinError),
    /// A publish asked for a generation that is not after the published one.
    #[error(
        "generation {asked} is not after the published generation {current}: a generation never goes backwards (omit --generation to take {next})",
        next = current + 1
    )]
    Backwards {
        /// What was asked.
        asked: u64,
        /// What is published.
        current: u64,
    },
    /// A config too big for the fleet.
    #[error(
        "the config is {0} bytes; a published config may have at most {MAX_CONFIG_BYTES} bytes"
    )]
    TooBig(usize),
    /// Another publish won the compare-and-swap.
    #[error(
        "another publish to this group happened at the same time; nothing was published, try again"
    )]
    PublishedMeanwhile,
    /// Why a publish did not happen.
    #[error("{0}; nothing published")]
    NotPublished(Box<Error>),
    /// `rollout show`: the group has no rollout.
    #[error("no rollout in group {0:?}")]
    NoRollout(String),
    /// `rollout apply`: the group has no rollout to run.
    #[error("no rollout in group {0:?}; create one with `kindling fleet rollout create`")]
    NoRolloutToRun(String),
    /// The rollout key was deleted under the controller.
    #[error("the rollout was deleted")]
    RolloutDeleted,
    /// Every compare-and-swap of the rollout lost.
    #[error("the rollout kept changing under the controller")]
    RolloutContended,
    /// A rollout runs: it is never replaced (its summary).
    #[error("a rollout is in progress ({0}); abort it first")]
    RolloutInProgress(String),
    /// A finished rollout is replaced only when asked (its summary).
    #[error("a finished rollout exists ({0}); pass --replace")]
    RolloutFinished(String),
    /// Another rollout won the compare-and-swap.
    #[error("another rollout was created at the same time")]
    RolloutCreatedMeanwhile,
    /// A config rollout with nothing published.
    #[error("nothing is published in this group; publish with --hold first")]
    NothingHeld,
    /// A config rollout of a generation every node applies already.
    #[error(
        "generation {0} was published without --hold, so every node applies it already; publish with --hold to roll out"
    )]
    NotHeld(u64),
    /// A release rollout of something that is not a version.
    #[error("{0:?} is not a release version (letters, digits, '.', '_', '+', '-')")]
    NotARelease(String),
    /// A rollback names a node the group does not have.
    #[error(
        "no node {name:?} in group {group:?} (give a machine id or a hostname from `kindling fleet status`)"
    )]
    NoSuchNode {
        /// The name given.
        name: String,
        /// The group.
        group: String,
    },
    /// `--failed` with a release rollout (what it rolls out).
    #[error(
        "the group's rollout is of {0}: a node that failed a release went back to its old slot by itself; --failed rolls back nodes of a config rollout"
    )]
    FailedOfRelease(String),
    /// `--failed` with no rollout.
    #[error("--failed: there is no rollout in this group")]
    FailedWithoutRollout,
    /// A rollback of no node.
    #[error("no node to roll back: name nodes, or pass --failed")]
    NothingToRollBack,
    /// A node with nothing saved to return to (its name).
    #[error(
        "{0} reports no saved generation to return to (its last apply changed nothing, or it was rolled back already); nothing asked"
    )]
    NothingSaved(String),
}

impl Error {
    /// Whether the fleet's rules refused the request (the fleet was reached and read):
    /// exit status 1; anything else (etcd, a value that cannot be used) is status 2.
    #[must_use]
    pub fn is_refusal(&self) -> bool {
        match self {
            Error::NotPublished(why) => why.is_refusal(),
            Error::Backwards { .. }
            | Error::TooBig(_)
            | Error::NoRollout(_)
            | Error::RolloutInProgress(_)
            | Error::RolloutFinished(_)
            | Error::RolloutCreatedMeanwhile
            | Error::NothingHeld
            | Error::NotHeld(_)
            | Error::NotARelease(_)
            | Error::NoSuchNode { .. }
            | Error::FailedOfRelease(_)
            | Error::FailedWithoutRollout
            | Error::NothingToRollBack
            | Error::NothingSaved(_) => true,
            _ => false,
        }
    }
}

/// Why a value read from etcd (a record, the published config, the rollout, a rollback
/// request) cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ValueError {
    /// A record over the size limit (its size).
    #[error("the record is {0} bytes, more than the {MAX_RECORD_BYTES} allowed")]
    RecordTooLarge(usize),
    /// A record that is not JSON.
    #[error("the record is not a JSON object: {0}")]
    RecordNotJson(serde_json::Error),
    /// A record of another group.
    #[error("the record says group {claimed:?}, but it is under group {group:?}")]
    OtherGroup {
        /// The group the record names.
        claimed: String,
        /// The group it is under.
        group: String,
    },
    /// A record whose fields cannot be read.
    #[error("the record cannot be read: {0}")]
    RecordUnreadable(serde_json::Error),
    /// A digest over the size limit (its paths).
    #[error("the digest lists {0} paths, more than the {MAX_DIGEST_ENTRIES} allowed")]
    DigestTooLarge(usize),
    /// A variable value that is not acceptable.
    #[error("its variables: {0}")]
    Vars(#[from] Invalid),
    /// A published config over the size limit (its size).
    #[error("the published config is {0} bytes, more than the {MAX_CONFIG_BYTES} allowed")]
    PublishedTooLarge(usize),
    /// A published config that is not JSON.
    #[error("the published config is not JSON: {0}")]
    PublishedNotJson(serde_json::Error),
    /// A published config whose text is not what its hash says.
    #[error("the published config's text does not match its sha256")]
    PublishedHash,
    /// A rollout value over the size limit.
    #[error("the rollout value is too large to be one")]
    RolloutTooLarge,
    /// A rollout value that is not a rollout.
    #[error("the rollout value is not a rollout: {0}")]
    NotARollout(serde_json::Error),
    /// A rollback request over the size limit.
    #[error("the rollback request is too large to be one")]
    RequestTooLarge,
    /// A rollback request that is not one.
    #[error("the rollback request is not one: {0}")]
    NotARequest(serde_json::Error),
}
