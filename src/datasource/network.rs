//! Provider network configuration as the sources hand it over, before `netconf` converts it:
//! a config drive's Debian `interfaces` bytes, Packet's `network` object (its NICs, address
//! blocks and name servers, as Packet's JSON spells them) or VMware guestinfo keys. Plain
//! data: nothing here reads or converts.

use std::net::IpAddr;

use serde::Deserialize;

/// Provider network configuration, in the form the source gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkConfig {
    /// A config drive's Debian `interfaces` file (the bytes at `network_config.content_path`).
    Debian(Vec<u8>),
    /// Packet's `network` object.
    Packet(NetworkData),
    /// VMware guestinfo keys (`interface.0.name`, `dns.server.0`, ...; `guestinfo.` removed).
    Vmware(std::collections::BTreeMap<String, String>),
}

impl NetworkConfig {
    /// The `--convert-netconf` name that reads this form.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            NetworkConfig::Debian(_) => "debian",
            NetworkConfig::Packet(_) => "packet",
            NetworkConfig::Vmware(_) => "vmware",
        }
    }
}

/// One address block.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Netblock {
    /// The address.
    pub address: IpAddr,
    /// Prefix length (used when `netmask` is missing).
    #[serde(default)]
    pub cidr: Option<u8>,
    /// The mask, as an address.
    #[serde(default)]
    pub netmask: Option<IpAddr>,
    /// The gateway.
    #[serde(default)]
    pub gateway: Option<IpAddr>,
    /// 4 or 6.
    #[serde(default)]
    pub address_family: u8,
    /// Whether public.
    #[serde(default)]
    pub public: bool,
}

/// One NIC.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Nic {
    /// Kernel name (`enp1s0f0`).
    #[serde(default)]
    pub name: String,
    /// MAC address.
    #[serde(default)]
    pub mac: String,
}

/// Packet's `network` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct NetworkData {
    /// NICs.
    pub interfaces: Vec<Nic>,
    /// Address blocks.
    pub addresses: Vec<Netblock>,
    /// Name servers (`None`: not given, Google's are used).
    pub dns: Option<Vec<IpAddr>>,
}
