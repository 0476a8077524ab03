//! The fleet in etcd: every agent publishes its node record there, operators publish
//! configs and run rollouts there, and nothing else is shared (no new server, no database).
//!
//! It owns the fleet's key layout and value formats (`keys`, `record`), the etcd reads and
//! writes the commands need (`store`), the node side that keeps a record alive and converges
//! the node to what is published (`member`, started by the agent daemon), and the pure
//! operator views: the `sw-patch query-hosts`-shaped table (`view`), the preview across the
//! fleet from published digests (`preview`) and the rollout controller (`rollout`), of a
//! held config or of an OS release. Every operator command that waits on the fleet waits on
//! a `mirror` (one read, then one watch), never by reading the group again in a loop. The
//! agent's reboot into a staged release asks the release gate (`gate`) first; an operator's
//! rollback of a node travels through etcd and is checked and carried out by the node
//! itself (`recover`).
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
