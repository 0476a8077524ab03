//! Datasources: where a node gets its user-data and metadata at boot (a local file, a URL, a
//! config drive, the EC2/GCE/DigitalOcean/Packet metadata services, the kernel command line's
//! `cloud-config-url=`, a VMware OVF environment file or VMware guestinfo, CloudSigma's
//! server context on its serial port, Azure's agent directory), each behind the one
//! [`Datasource`] trait, plus what turns their answers into a plan.
//!
//! It owns: reading those places (files bounded in size, HTTP through [`http::Client`] with
//! timeouts, bounded bodies, bounded retries and an optional host allow-list), the race of
//! several sources under one deadline (`race`), the `$public_ipv4`-style values and the
//! `/etc/environment` merge (`env`), the conversion of provider network config into networkd
//! units (`netconf`), the metadata's hostname, SSH keys and network units merged into a plan
//! (`merge`), and the boot units that start kindling (`boot_units`).
//!
//! It must never write: everything it produces is a [`crate::plan::Plan`] that `apply`
//! converges like any other, so `diff` previews it. It never contacts an address the
//! caller did not name (no hard-coded metadata address outside the `--oem` presets), and
//! every wait ends at a deadline. It does no raw hardware I/O: VMware guestinfo goes through
//! open-vm-tools' `vmware-rpctool` (the only program it runs, with a timeout and bounded
//! output), CloudSigma's serial port through termios and bounded reads (`serial`). Which
//! hardware the node is (DMI) is read inside the root, so a test root decides it.
//!
//! This file is a face: the shared vocabulary lives in `fetch` (the trait, what a source
//! answers, the bounded readers) and `network` (provider network config), re-exported here;
//! the boot-time run up to its plan is `boot` (from the flags of `flags`, the sources built
//! by `sources`).

pub mod boot;
pub mod boot_units;
pub mod cloudsigma;
pub mod configdrive;
pub mod digitalocean;
pub mod ec2;
pub mod env;
mod fetch;
pub mod file;
pub mod flags;
pub mod gce;
pub mod http;
pub mod merge;
pub mod netconf;
pub mod network;
pub mod packet;
pub mod proc_cmdline;
pub mod race;
pub mod serial;
pub mod sources;
pub mod url;
pub mod vmware;
pub mod vmware_guestinfo;
pub mod waagent;

pub use fetch::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    dmi, json_document, parse_ip, read_bounded, read_bounded_within,
};
pub use network::NetworkConfig;
