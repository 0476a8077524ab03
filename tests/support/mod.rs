//! What the integration tests share: the paths, runners and tree walk every test uses
//! (`common`), what every harness that starts something shares (`process`: a free port, a
//! peer binary, a process guard, a loopback server, a runtime thread, the update-server
//! command lines), and one harness per part of the system, each a builder a test starts and
//! that stops whatever it started when it is dropped: a simulated node, a published
//! `Release` and the update servers (`agent`), an etcd (`lock`), a private D-Bus with a
//! logind stand-in (`dbus`), a fleet of agents (`fleet`), update_engine's and logind's
//! stand-ins for the reboot manager (`bus_standins`), the
//! metadata-service emulator (`datasource`), the fault-injecting payload server with its
//! `Behaviour` builder (`payload`), the Omaha peers (`omaha`), Flatcar's CrAU payloads made
//! by mantle's generator with go-omaha serving them (`crau`) and insta snapshots (`insta`).

pub mod agent;
pub mod bus_standins;
pub mod chaos;
pub mod cluster;
pub mod common;
pub mod crau;
pub mod datasource;
pub mod dbus;
pub mod fleet;
pub mod history;
pub mod insta;
pub mod lock;
pub mod omaha;
pub mod payload;
pub mod process;
