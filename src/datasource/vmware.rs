//! `--from-vmware-ovf-env FILE` (coreos-cloudinit's `vmware` with an OVF environment file):
//! the properties of `PropertySection/Property` (`oe:key`, `oe:value`), read as guestinfo
//! keys (`guestinfo.hostname` is `hostname`), plus what both VMware sources share: the
//! user-data and the metadata of a set of guestinfo keys (`guestinfo` reads the same keys
//! from the hypervisor through `vmware-rpctool`).
//!
//! User-data (Flatcar's order): `ignition.config.data`, else `coreos.config.data`, decoded
//! per the same prefix's `.data.encoding` (`base64`, `gzip`, `gzip+base64` and their short
//! forms); else a download of `ignition.config.url`, else of `coreos.config.url` (decoded by
//! that prefix's encoding, as coreos-cloudinit v1.14.0 does). An Ignition config found this
//! way is recognised later and left to Ignition. Metadata: `hostname`;
//! `interface.N.ip.M.address` (CIDR) gives `$public_*`/`$private_*` by the interface's
//! `role` and the address family; the `dns.*`/`interface.*` keys are the network config
//! `--convert-netconf=vmware` reads. A missing file is never available (the run ends at
//! once); bad XML is an error. This module never runs a program and never writes.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use super::http::Client;
use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    NetworkConfig, read_bounded,
};

/// An OVF environment file.
#[derive(Debug, Clone)]
pub struct VmwareOvf {
    /// The file (`/media/ovfenv/ovf-env.xml` at boot).
    pub path: PathBuf,
    /// The client for `coreos.config.url`.
    pub client: Client,
}

/// The `guestinfo.` properties of an OVF environment document, prefix removed.
///
/// # Errors
/// When the document is not XML.
pub fn properties(text: &str) -> Result<BTreeMap<String, String>, crate::xml::XmlError> {
    let root = crate::xml::parse(text.as_bytes(), &crate::xml::DATASOURCE_LIMITS)?;
    let mut out = BTreeMap::new();
    for section in root.children_named("PropertySection") {
        for p in section.children_named("Property") {
            if let (Some(k), Some(v)) = (p.attr("key"), p.attr("value"))
                && let Some(k) = k.strip_prefix("guestinfo.")
            {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    Ok(out)
}

/// Metadata from guestinfo keys, as coreos-cloudinit's `FetchMetadata`.
///
/// # Errors
/// For an address that is not CIDR or a role other than `public`, `private` or empty.
pub fn metadata(props: &BTreeMap<String, String>) -> Result<Metadata, FetchError> {
    let get = |k: &str| props.get(k).map_or("", String::as_str);
    let mut md = Metadata {
        hostname: Some(get("hostname").to_string()).filter(|h| !h.is_empty()),
        ..Metadata::default()
    };
    for i in 0.. {
        let has = |k: &str| !get(&format!("interface.{i}.{k}")).is_empty();
        let any = [
            "name",
            "mac",
            "dhcp",
            "ip.0.address",
            "route.0.gateway",
            "route.0.destination",
        ];
        if !any.iter().any(|k| has(k)) {
            break;
        }
        let role = get(&format!("interface.{i}.role"));
        for a in 0.. {
            let address = get(&format!("interface.{i}.ip.{a}.address"));
            if address.is_empty() {
                break;
            }
            let ip: IpAddr = address
                .split_once('/')
                .and_then(|(ip, len)| len.parse::<u8>().ok().and(ip.parse().ok()))
                .ok_or_else(|| {
                    FetchError::Malformed(format!(
                        "guestinfo interface.{i}.ip.{a}.address {address:?} is not ADDRESS/PREFIX"
                    ))
                })?;
            match (role, ip.is_ipv4()) {
                ("public", true) => md.public_ipv4 = Some(ip),
                ("public", false) => md.public_ipv6 = Some(ip),
                ("private", true) => md.private_ipv4 = Some(ip),
                ("private", false) => md.private_ipv6 = Some(ip),
                ("", _) => {}
                (other, _) => {
                    return Err(FetchError::Malformed(format!(
                        "guestinfo interface.{i}.role {other:?} is neither public nor private"
                    )));
                }
            }
        }
    }
    let network: BTreeMap<String, String> = props
        .iter()
        .filter(|(k, v)| (k.starts_with("dns.") || k.starts_with("interface.")) && !v.is_empty())
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    md.network = Some(NetworkConfig::Vmware(network));
    Ok(md)
}

/// The guestinfo keys that carry user-data, in the order they are tried (Flatcar reads
/// `ignition.config.*` before `coreos.config.*`).
pub const USER_DATA_PREFIXES: [&str; 2] = ["ignition.config", "coreos.config"];

/// The user-data of a set of guestinfo keys: the first non-empty `PREFIX.data`, else a
/// download of the first non-empty `PREFIX.url`, decoded per that prefix's
/// `PREFIX.data.encoding`; empty when no key is set.
///
/// # Errors
/// When the download fails or the data does not decode.
pub async fn user_data(
    props: &BTreeMap<String, String>,
    client: &Client,
) -> Result<Vec<u8>, FetchError> {
    let get = |k: String| props.get(&k).cloned().unwrap_or_default();
    let mut found = None;
    for prefix in USER_DATA_PREFIXES {
        let data = get(format!("{prefix}.data"));
        if !data.is_empty() {
            found = Some((prefix, data.into_bytes()));
            break;
        }
    }
    if found.is_none() {
        for prefix in USER_DATA_PREFIXES {
            let url = get(format!("{prefix}.url"));
            if !url.is_empty() {
                found = Some((prefix, client.get_retry(&url, &[], MAX_USER_DATA).await?));
                break;
            }
        }
    }
    let Some((prefix, data)) = found else {
        return Ok(Vec::new());
    };
    let encoding = get(format!("{prefix}.data.encoding"));
    if encoding.is_empty() {
        return Ok(data);
    }
    crate::encoding::decode(&data, &encoding).map_err(|e| {
        FetchError::Malformed(format!(
            "guestinfo {prefix}.data (encoding {encoding:?}): {e}"
        ))
    })
}

impl VmwareOvf {
    fn props(&self) -> Result<BTreeMap<String, String>, FetchError> {
        let bytes = read_bounded(&self.path, MAX_METADATA)?;
        properties(&String::from_utf8_lossy(&bytes)).map_err(|e| {
            FetchError::Malformed(format!(
                "{}: not an OVF environment: {e}",
                self.path.display()
            ))
        })
    }
}

impl Datasource for VmwareOvf {
    fn identity(&self) -> Identity {
        Identity::once("vmware", self.path.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            Availability::if_present(self.path.is_file(), || {
                Availability::Never(format!(
                    "{} does not exist; waiting cannot help",
                    self.path.display()
                ))
            })
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move { user_data(&self.props()?, &self.client).await })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move { metadata(&self.props()?) })
    }
}
