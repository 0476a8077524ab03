//! What the integration tests share: the paths and runners every test uses (`common`), and
//! one harness per part of the system, each a builder a test starts and that stops whatever
//! it started when it is dropped: a simulated node and the update servers (`agent`), an etcd
//! (`lock`), a fleet of agents (`fleet`), the metadata-service emulator (`datasource`), the
//! fault-injecting payload server (`payload`), the Omaha peers (`omaha`) and insta snapshots
//! (`insta`), and what all of them share to start processes and servers (`process`).

pub mod agent;
pub mod common;
pub mod datasource;
pub mod fleet;
pub mod insta;
pub mod lock;
pub mod omaha;
pub mod payload;
pub mod process;
