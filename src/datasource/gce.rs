//! `--from-gce-metadata URL` (coreos-cloudinit's `gce-metadata-service`): every request
//! carries `Metadata-Flavor: Google`. Available when `computeMetadata/v1/` answers; user-data
//! `instance/attributes/user-data`; metadata `instance/network-interfaces/0/access-configs/0/
//! external-ip` (public IPv4), `instance/network-interfaces/0/ip` (private IPv4),
//! `instance/hostname`. No SSH keys. Difference: the hostname is trimmed of white space
//! (coreos-cloudinit takes the raw body).

use super::http::{Client, join};
use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, Metadata, parse_ip,
};

/// GCE's metadata server.
#[derive(Debug, Clone)]
pub struct Gce {
    /// Root URL.
    pub root: String,
    /// The client (built with the `Metadata-Flavor: Google` header).
    pub client: Client,
}

/// The header every GCE request carries.
pub const FLAVOR: (&str, &str) = ("Metadata-Flavor", "Google");

impl Gce {
    async fn text(&self, key: &str) -> Result<String, FetchError> {
        let url = join(&self.root, &format!("computeMetadata/v1/instance/{key}"));
        let body = self.client.fetch_data(&url, &[], MAX_METADATA).await?;
        Ok(String::from_utf8_lossy(&body).trim().to_string())
    }
}

impl Datasource for Gce {
    fn identity(&self) -> Identity {
        Identity::waiting("gce-metadata-service", &self.root)
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(
            self.client
                .availability_under(&self.root, "computeMetadata/v1/"),
        )
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(self.client.user_data_under(
            &self.root,
            "computeMetadata/v1/instance/attributes/user-data",
        ))
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move {
            let public = self
                .text("network-interfaces/0/access-configs/0/external-ip")
                .await?;
            let private = self.text("network-interfaces/0/ip").await?;
            let hostname = self.text("hostname").await?;
            Ok(Metadata {
                public_ipv4: parse_ip(&public, "external-ip")?,
                private_ipv4: parse_ip(&private, "network-interfaces/0/ip")?,
                hostname: (!hostname.is_empty()).then_some(hostname),
                ..Metadata::default()
            })
        })
    }
}
