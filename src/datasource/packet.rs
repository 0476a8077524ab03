//! `--from-packet-metadata URL` (coreos-cloudinit's `packet-metadata-service`, Equinix Metal):
//! available when URL itself answers; user-data `userdata`; metadata the JSON document
//! `metadata`: `hostname`, `ssh_keys` (a list), and `network` (`interfaces`, `addresses`,
//! `dns`), which `--convert-netconf=packet` turns into a bond (`netconf::packet`).
//!
//! Addresses: IPv4 public/private go to `$public_ipv4`/`$private_ipv4` (the last one wins, as
//! in coreos-cloudinit). Difference: coreos-cloudinit puts *every* IPv6 address, private ones
//! included, into `$public_ipv6` and never sets `$private_ipv6`; kindling honours `public`.

use serde::Deserialize;

use super::http::Client;
pub use super::network::{Netblock, NetworkData, Nic};
use super::{
    Availability, Datasource, FetchError, Fut, Identity, Metadata, NetworkConfig, json_document,
};

/// Packet's metadata service.
#[derive(Debug, Clone)]
pub struct Packet {
    /// Root URL.
    pub root: String,
    /// The client.
    pub client: Client,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Document {
    hostname: String,
    ssh_keys: Vec<String>,
    network: NetworkData,
}

/// Read Packet's `metadata` document.
///
/// # Errors
/// When it is not the expected JSON.
pub fn parse(bytes: &[u8], from: &str) -> Result<Metadata, FetchError> {
    let mut md = Metadata::default();
    let Some(doc) = json_document::<Document>(bytes, from)? else {
        return Ok(md);
    };
    for b in &doc.network.addresses {
        match (b.address_family, b.public) {
            (4, true) => md.public_ipv4 = Some(b.address),
            (4, false) => md.private_ipv4 = Some(b.address),
            (_, true) => md.public_ipv6 = Some(b.address),
            (_, false) => md.private_ipv6 = Some(b.address),
        }
    }
    md.set_host_and_keys(doc.hostname, doc.ssh_keys);
    md.network = Some(NetworkConfig::Packet(doc.network));
    Ok(md)
}

impl Datasource for Packet {
    fn identity(&self) -> Identity {
        Identity::waiting("packet-metadata-service", &self.root)
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(self.client.availability_under(&self.root, ""))
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(self.client.user_data_under(&self.root, "userdata"))
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(self.client.metadata_under(&self.root, "metadata", parse))
    }
}
