//! `--from-ec2-metadata URL` (coreos-cloudinit's `ec2-metadata-service`): the EC2 instance
//! metadata service under URL, API version `2009-04-04`.
//!
//! IMDSv2 (Flatcar's fix for flatcar/Flatcar#787, done better): before asking, kindling
//! `PUT`s `latest/api/token` *under the given URL* (Flatcar always uses 169.254.169.254) with
//! `X-aws-ec2-metadata-token-ttl-seconds: 21600` and sends the token as
//! `X-aws-ec2-metadata-token` on every request; when the service has no token endpoint (any
//! error or non-2xx) it falls back to IMDSv1, plain GETs. A 401 while holding a token drops
//! it, so the next attempt asks for a new one.
//!
//! Metadata: `public-keys` (`<idx>=<name>` lines, then each `public-keys/<idx>/openssh-key`,
//! first line, in index order), `hostname` (first line, cut at the first space), `local-ipv4`,
//! `public-ipv4`. A 4xx reads as absent. Difference: an address that does not parse is an
//! error (coreos-cloudinit silently drops it).

use std::sync::Mutex;

use super::http::{Client, GetError, join};
use super::{
    Availability, Datasource, FetchError, Fut, Identity, MAX_METADATA, MAX_USER_DATA, Metadata,
    parse_ip,
};

/// The header that carries the token.
pub const TOKEN_HEADER: &str = "X-aws-ec2-metadata-token";
/// The header that asks for a token's lifetime.
pub const TTL_HEADER: &str = "X-aws-ec2-metadata-token-ttl-seconds";

/// An EC2-style metadata service.
#[derive(Debug)]
pub struct Ec2 {
    /// The service's root URL (ends in `/`).
    pub root: String,
    /// The client.
    pub client: Client,
    token: Mutex<Option<String>>,
}

impl Ec2 {
    /// A service at `root`.
    #[must_use]
    pub fn new(root: &str, client: Client) -> Self {
        let root = if root.ends_with('/') {
            root.to_string()
        } else {
            format!("{root}/")
        };
        Ec2 {
            root,
            client,
            token: Mutex::new(None),
        }
    }

    fn headers(&self) -> Vec<(&'static str, String)> {
        self.token
            .lock()
            .ok()
            .and_then(|t| t.clone())
            .map(|t| vec![(TOKEN_HEADER, t)])
            .unwrap_or_default()
    }

    fn set_token(&self, token: Option<String>) {
        if let Ok(mut t) = self.token.lock() {
            *t = token;
        }
    }

    /// Ask for an IMDSv2 token; `None` means IMDSv1.
    async fn ensure_token(&self) {
        if !self.headers().is_empty() {
            return;
        }
        let url = join(&self.root, "latest/api/token");
        if let Ok(body) = self
            .client
            .once(
                reqwest::Method::PUT,
                &url,
                &[(TTL_HEADER, "21600".to_string())],
                4096,
            )
            .await
        {
            let token = String::from_utf8_lossy(&body).trim().to_string();
            if !token.is_empty() && !token.contains(['\r', '\n']) {
                self.set_token(Some(token));
            }
        }
    }

    async fn data(&self, path: &str) -> Result<Vec<u8>, FetchError> {
        let url = join(&self.root, path);
        match self
            .client
            .get_retry(&url, &self.headers(), MAX_METADATA)
            .await
        {
            Ok(b) => Ok(b),
            Err(GetError::NotFound { status: 401, .. }) if !self.headers().is_empty() => {
                // The token expired or was revoked: one more try with a fresh one.
                self.set_token(None);
                self.ensure_token().await;
                self.client
                    .fetch_data(&url, &self.headers(), MAX_METADATA)
                    .await
            }
            Err(GetError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    async fn first_line(&self, path: &str) -> Result<Option<String>, FetchError> {
        let body = self.data(path).await?;
        Ok(String::from_utf8_lossy(&body)
            .lines()
            .next()
            .map(str::to_string))
    }

    async fn metadata(&self) -> Result<Metadata, FetchError> {
        self.ensure_token().await;
        let mut md = Metadata::default();
        let listing = self.data("2009-04-04/meta-data/public-keys").await?;
        for line in String::from_utf8_lossy(&listing).lines() {
            let Some((idx, name)) = line.split_once('=') else {
                return Err(FetchError::Malformed(format!(
                    "{}: malformed public key line {line:?} (want INDEX=NAME)",
                    join(&self.root, "2009-04-04/meta-data/public-keys")
                )));
            };
            let key = self
                .first_line(&format!(
                    "2009-04-04/meta-data/public-keys/{idx}/openssh-key"
                ))
                .await?
                .unwrap_or_default();
            md.ssh_keys.push((name.to_string(), key));
        }
        if let Some(h) = self.first_line("2009-04-04/meta-data/hostname").await? {
            let h = h.split(' ').next().unwrap_or("").to_string();
            md.hostname = (!h.is_empty()).then_some(h);
        }
        if let Some(ip) = self.first_line("2009-04-04/meta-data/local-ipv4").await? {
            md.private_ipv4 = parse_ip(&ip, "local-ipv4")?;
        }
        if let Some(ip) = self.first_line("2009-04-04/meta-data/public-ipv4").await? {
            md.public_ipv4 = parse_ip(&ip, "public-ipv4")?;
        }
        Ok(md)
    }
}

impl Datasource for Ec2 {
    fn identity(&self) -> Identity {
        Identity::waiting("ec2-metadata-service", &self.root)
    }

    fn availability(&self) -> Fut<'_, Availability> {
        Box::pin(async move {
            if let Err(e) = self.client.policy().check(&self.root) {
                return Availability::Never(e.to_string());
            }
            self.ensure_token().await;
            let url = join(&self.root, "2009-04-04/");
            let answer = self.client.availability(&url, &self.headers()).await;
            if matches!(&answer, Availability::NotYet(m) if m.contains("HTTP 401")) {
                self.set_token(None);
            }
            answer
        })
    }

    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>> {
        Box::pin(async move {
            self.ensure_token().await;
            let url = join(&self.root, "2009-04-04/user-data");
            self.client
                .fetch_data(&url, &self.headers(), MAX_USER_DATA)
                .await
        })
    }

    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(self.metadata())
    }
}
