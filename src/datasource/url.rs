//! `--from-url URL` (coreos-cloudinit's `url`): available when one GET answers 2xx; the
//! user-data is a retried GET of the same URL; no metadata.

use super::http::Client;
use super::{Availability, Datasource, FetchError, Fut, Identity, MAX_USER_DATA};

/// A user-data URL.
#[derive(Debug, Clone)]
pub struct Url {
    /// The URL.
    pub url: String,
    /// The client.
    pub client: Client,
}

impl Datasource for Url {
    fn identity(&self) -> Identity {
        Identity::waiting("url", &self.url)
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move { self.client.availability(&self.url, &[]).await })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        // A 4xx here is an error, as in coreos-cloudinit (the URL is the config itself).
        Box::pin(async move {
            self.client
                .get_retry(&self.url, &[], MAX_USER_DATA)
                .await
                .map_err(Into::into)
        })
    }
}
