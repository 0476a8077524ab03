//! `--from-waagent DIR` (coreos-cloudinit's `waagent`, Azure): available once the Azure
//! agent wrote `DIR/provisioned`; user-data `DIR/CustomData`; metadata from
//! `DIR/SharedConfig.xml`: the `Instance` whose `id` is `Incarnation@instance` gives the
//! private IPv4 (`address`), its first `InputEndpoints/Endpoint@loadBalancedPublicAddress`
//! that is `HOST:PORT` the public IPv4. No hostname, no keys.

use std::path::PathBuf;

use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    read_bounded,
};

/// The Azure agent's directory.
#[derive(Debug, Clone)]
pub struct Waagent {
    /// `/var/lib/waagent` at boot.
    pub root: PathBuf,
}

/// Metadata from `SharedConfig.xml`.
///
/// # Errors
/// When the document is not XML.
pub fn shared_config(text: &str) -> Result<Metadata, crate::xml::XmlError> {
    let doc = crate::xml::parse(text.as_bytes(), &crate::xml::DATASOURCE_LIMITS)?;
    let wanted = doc
        .child("Incarnation")
        .and_then(|i| i.attr("instance"))
        .unwrap_or("");
    let mut md = Metadata::default();
    let Some(instance) = doc
        .child("Instances")
        .into_iter()
        .flat_map(|i| i.children_named("Instance"))
        .find(|i| i.attr("id").unwrap_or("") == wanted)
    else {
        return Ok(md);
    };
    md.private_ipv4 = instance.attr("address").and_then(|a| a.trim().parse().ok());
    md.public_ipv4 = instance
        .child("InputEndpoints")
        .into_iter()
        .flat_map(|e| e.children_named("Endpoint"))
        .filter_map(|e| e.attr("loadBalancedPublicAddress"))
        .find_map(|a| a.parse::<std::net::SocketAddr>().ok())
        .map(|s| s.ip());
    Ok(md)
}

impl Datasource for Waagent {
    fn identity(&self) -> Identity {
        Identity::waiting("waagent", self.root.display())
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            let provisioned = self.root.join("provisioned");
            Availability::if_present(provisioned.exists(), || {
                Availability::NotYet(format!(
                    "{} is not there yet (the Azure agent writes it)",
                    provisioned.display()
                ))
            })
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move { read_bounded(&self.root.join("CustomData"), MAX_USER_DATA) })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move {
            let path = self.root.join("SharedConfig.xml");
            let bytes = read_bounded(&path, MAX_METADATA)?;
            if bytes.is_empty() {
                return Ok(Metadata::default());
            }
            shared_config(&String::from_utf8_lossy(&bytes))
                .map_err(|e| FetchError::Malformed(format!("{}: {e}", path.display())))
        })
    }
}
