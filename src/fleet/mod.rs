//! The fleet in etcd: every agent publishes its node record there, operators publish
//! configs and run rollouts there, and nothing else is shared (no new server, no database).
//!
//! The vocabulary first: the key layout (`keys`), the values kept there and their checks
//! (`record`: node record, digest, published config; `rollout`: the rollout value), what
//! can fail (`error`), the nodes as listed and named to an operator (`listing`), and the
//! one handle on a group's keys in etcd, with paged reads and compare-and-swap writes
//! (`etcd`, [`FleetEtcd`]). The node side: whether it joins (`join`), what it remembers of
//! its applies (`local`), the member that keeps its record alive and converges it to what
//! is published (`member`, started by the agent daemon), its answer to an operator's
//! rollback (`recover`), and the release gate its reboot asks first (`gate`). The operator
//! side, pure views first: the `sw-patch query-hosts`-shaped table (`view`), the preview
//! across the fleet from published digests (`preview`); then what waits on the fleet, always
//! on a `mirror` (one read, then one watch), never by reading the group again in a loop: the
//! rollout controller (`controller`: create, run, abort, of a held config or of an OS
//! release) and the rollback of nodes (`rollback`).
//!
//! It never writes a host except through [`crate::apply`] (files and actions, atomically,
//! with a generation to roll back to), never reboots except by asking the agent's reboot
//! pipeline (window and lock), and never trusts a value read from etcd: every record and
//! config is size-limited, parsed and checked (group, generation) before it is used.

pub mod controller;
pub mod error;
pub mod etcd;
pub mod gate;
pub mod join;
pub mod keys;
pub mod listing;
pub mod local;
pub mod member;
pub mod mirror;
pub mod preview;
pub mod record;
pub mod recover;
pub mod rollback;
pub mod rollout;
pub mod vars;
pub mod view;

pub use error::{Error, ValueError};
pub use etcd::FleetEtcd;
pub use join::Join;
pub use member::Publisher;
pub use mirror::Mirror;
pub use record::{AgentView, Digest, NodeRecord, NodeState, Published};
