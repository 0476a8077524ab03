//! The cluster-wide reboot lock: one trait, [`RebootLock`], three backends (etcd v2 exactly
//! as locksmith, etcd v3 with owner-checked leases and Airlock's key, a FleetLock client),
//! and a FleetLock server on the etcd v3 semaphore.
//!
//! It owns the semaphore's wire formats and algorithms; it never reboots anything, never
//! reads the clock to decide *whether* a node may reboot (that is [`crate::reboot`]'s
//! window) and never holds state of its own across calls: etcd (or the FleetLock server) is
//! the only truth, so a caller may crash and call again at any time.
//!
//! Every operation is idempotent per holder: locking what you hold is
//! [`Acquired::AlreadyHeld`], unlocking what you do not hold is [`Released::NotHeld`]
//! (locksmith errs on both; coreos/locksmith#58). Waiting for a slot
//! ([`RebootLock::wait_lock`]) blocks on etcd watches (v2 `wait=true`, v3 watch streams), not
//! on a polling loop; only the FleetLock protocol, which has no way to wait, polls.
//!
//! Design of the trait: the agent is async on tokio and chooses a backend at run time from
//! update.conf, so it holds a `Box<dyn RebootLock>`. Native `async fn` in traits is not
//! dyn-compatible, so each method returns a boxed future ([`LockFuture`]); the cost (one
//! allocation per lock operation, which is a network round trip anyway) is nothing, and no
//! proc-macro crate is needed. The futures are `Send`, so they can be spawned.
//!
//! This file is the module's face: `api` holds the vocabulary every part shares (the
//! trait, its outcomes, [`LockError`], escaping, the watch-based wait), `config` where the
//! lock is, `connect` the choice of backend, `etcd2`/`etcd3`/`fleetlock` the backends,
//! `operator` the operator's sequences (`kindling lock`, `locksmithctl`) in locksmithctl's
//! words, `tls` the TLS files checked and handshake failures explained, `held` the node's record of a slot held across a reboot (written before the
//! reboot, read after the next boot to give the slot back), and `server` the FleetLock
//! server.

mod api;
mod config;
mod connect;
mod etcd2;
mod etcd3;
mod etcd3_route;
mod fleetlock;
pub mod held;
pub mod operator;
pub mod server;
mod tls;

pub use api::{
    Acquired, Holder, LockError, LockFuture, Reattached, RebootLock, Released, Status,
    query_escape, query_unescape,
};

pub use config::{
    Backend, DEFAULT_ENDPOINTS, LockConfig, TlsFiles, split_endpoints as config_endpoints,
};
pub use connect::connect;
pub use etcd2::Etcd2Lock;
pub use etcd3::{
    DEFAULT_LEASE_TTL, Etcd3Lock, client as etcd3_client, describe as describe_etcd_error,
    failover as etcd3_failover, is_unreachable as etcd_unreachable,
    kindling_prefix as etcd3_holders_prefix, semaphore_key as etcd3_semaphore_key,
};
pub use fleetlock::FleetLockClient;
pub use held::{HELD_SLOT_FILE, HeldSlot, HeldSlotError};
pub use operator::OperatorError;
