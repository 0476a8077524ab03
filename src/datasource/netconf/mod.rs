//! Provider network config to systemd-networkd units, as coreos-cloudinit's `network`
//! package writes them (`-convert-netconf debian|packet|vmware`): one `.netdev`, `.link` and
//! `.network` per interface where it has content, named `NN-NAME` with `NN` the interface's
//! depth in the bond/VLAN tree as two hex digits (parents of a bond or VLAN get the higher
//! numbers), the name falling back to the MAC address. The units are runtime units
//! (`/run/systemd/network/`); `merge` plans them with a networkd restart.
//!
//! Differences from coreos-cloudinit, each where it writes a unit networkd cannot use or
//! panics: an unparsable gateway, name server or MAC address is an error (it wrote
//! `Gateway=<nil>`), Debian bond options are written with networkd's names (`Mode=`,
//! `MIIMonitorSec=`, `LACPTransmitRate=`; it wrote `mode=`/`miimon=`/`lacp-rate=`, which
//! networkd ignores), `allow-*` stanzas read like `auto` and `mapping` stanzas are skipped
//! (it refused the whole file), Packet metadata without interfaces is an error (a panic), a
//! route without a gateway is left out, and a VMware interface without name or MAC is an
//! error (it wrote a `[Match]` that matches every link).
//!
//! This file is a face: the interface tree and the unit text the converters share are
//! `model`, their errors `error` ([`Error`], [`ValueError`]); [`convert`] only picks the
//! converter.

pub mod debian;
mod error;
mod model;
pub mod packet;
pub mod vmware;

pub use error::{Error, ValueError};
pub use model::{
    Cidr, Interface, Kind, Method, NetworkUnit, Route, mask_prefix, network, parse_cidr, parse_mac,
    units,
};

use super::NetworkConfig;

/// Convert `config` with the converter `kind` (`debian`, `packet`, `vmware`).
///
/// # Errors
/// When the converter does not read this source's form, or the config is malformed.
pub fn convert(kind: &str, config: &NetworkConfig) -> Result<Vec<NetworkUnit>, Error> {
    let units = convert_any(kind, config)?;
    // Each unit is one file under /run/systemd/network; a name from metadata may not make
    // it a path.
    if let Some(bad) = units.iter().find(|u| {
        u.name.is_empty()
            || u.name.contains('/')
            || u.name == "."
            || u.name == ".."
            || u.name.chars().any(char::is_control)
    }) {
        return Err(Error::UnitName(bad.name.clone()));
    }
    Ok(units)
}

fn convert_any(kind: &str, config: &NetworkConfig) -> Result<Vec<NetworkUnit>, Error> {
    match (kind, config) {
        ("debian", NetworkConfig::Debian(bytes)) => {
            debian::convert(&String::from_utf8_lossy(bytes))
        }
        ("packet", NetworkConfig::Packet(data)) => packet::convert(data),
        ("vmware", NetworkConfig::Vmware(map)) => vmware::convert(map),
        (want, got) => Err(Error::WrongConverter {
            want: want.to_string(),
            got: got.kind(),
        }),
    }
}
