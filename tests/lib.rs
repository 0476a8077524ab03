//! kindling's integration tests, compiled as one binary (as casey/just does): data-driven
//! tests against data no one on this project wrote (`conformance`, `corpus`), the real
//! binary on temporary files (`cli`), hostile input (`fuzz`), and drift checks for
//! generated files (`generated`).

// A panic is how a test reports failure, helpers included.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent;
mod agent_compile;
mod agent_crau_install;
mod agent_reboot;
mod apply;
mod architecture;
mod calendar;
mod cli;
mod compile;
mod conformance;
mod corpus;
mod crau;
mod dashboard;
mod datasource;
mod datasource_hypervisor;
mod dbus;
mod docs;
mod etcd_cluster;
mod flatcar;
mod fleet;
mod fleet_cluster;
mod fleet_forty;
mod fleet_owed;
mod fleet_reboot;
mod fleet_release;
mod fleet_watch;
mod formats;
mod fuzz;
mod fuzz_replay;
mod generated;
mod hostile_inputs;
mod lock;
mod lock_wait;
mod locksmithctl;
mod maintenance_window;
mod multipart;
mod omaha;
mod package;
mod payload;
mod publish_crau;
mod reboot_hooks;
mod reboot_manager;
mod reboot_window;
mod servers;
mod slots;
mod snapshots;
mod support;
mod template;
mod units;
