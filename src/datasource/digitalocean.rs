//! `--from-digitalocean-metadata URL` (coreos-cloudinit's `digitalocean-metadata-service`):
//! available when `metadata/v1` answers; user-data `metadata/v1/user-data`; metadata the JSON
//! document `metadata/v1.json`: `hostname`, `public_keys` (a list), and the first public and
//! private interface's `ipv4.ip_address` / `ipv6.ip_address`. Its network description is not
//! converted (coreos-cloudinit v1.14.0 removed that converter; DigitalOcean configures the
//! network itself). Difference: an address that does not parse is an error.

use serde::Deserialize;

use super::http::Client;
use super::{
    Availability, Datasource, FetchError, Fut, Identity, Metadata, json_document, parse_ip,
};

/// DigitalOcean's metadata service.
#[derive(Debug, Clone)]
pub struct DigitalOcean {
    /// Root URL.
    pub root: String,
    /// The client.
    pub client: Client,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Address {
    ip_address: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Interface {
    ipv4: Option<Address>,
    ipv6: Option<Address>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Interfaces {
    public: Vec<Interface>,
    private: Vec<Interface>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Document {
    hostname: String,
    interfaces: Interfaces,
    public_keys: Vec<String>,
}

/// Read DigitalOcean's `metadata/v1.json`.
///
/// # Errors
/// When it is not the expected JSON or an address does not parse.
pub fn parse(bytes: &[u8], from: &str) -> Result<Metadata, FetchError> {
    let mut md = Metadata::default();
    let Some(doc) = json_document::<Document>(bytes, from)? else {
        return Ok(md);
    };
    let ip = |a: &Option<Address>, what: &str| match a {
        Some(a) => parse_ip(&a.ip_address, &format!("{from}: {what}")),
        None => Ok(None),
    };
    if let Some(i) = doc.interfaces.public.first() {
        md.public_ipv4 = ip(&i.ipv4, "interfaces.public[0].ipv4")?;
        md.public_ipv6 = ip(&i.ipv6, "interfaces.public[0].ipv6")?;
    }
    if let Some(i) = doc.interfaces.private.first() {
        md.private_ipv4 = ip(&i.ipv4, "interfaces.private[0].ipv4")?;
        md.private_ipv6 = ip(&i.ipv6, "interfaces.private[0].ipv6")?;
    }
    md.set_host_and_keys(doc.hostname, doc.public_keys);
    Ok(md)
}

impl Datasource for DigitalOcean {
    fn identity(&self) -> Identity {
        Identity::waiting("digitalocean-metadata-service", &self.root)
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(self.client.availability_under(&self.root, "metadata/v1"))
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(
            self.client
                .user_data_under(&self.root, "metadata/v1/user-data"),
        )
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(
            self.client
                .metadata_under(&self.root, "metadata/v1.json", parse),
        )
    }
}
