//! HTTP for datasources: coreos-cloudinit's `pkg/http_client.go` semantics (any 4xx is
//! "not found", 5xx and transport errors are retried with a doubling backoff from 100 ms to
//! 5 s, at most 15 attempts), bounded where coreos-cloudinit is not: every attempt has a
//! timeout that covers the body too (a slow drip ends), bodies are read up to a limit (a
//! 10 MB answer is refused, not buffered), every retry stops at the run's deadline, redirects
//! are followed only to allowed hosts, and an optional allow-list (`--allow-hosts`) refuses a
//! URL before any connection is attempted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

/// Limits shared by every request of a run.
#[derive(Debug, Clone)]
pub struct Policy {
    /// One attempt, body included (coreos-cloudinit: 10 s).
    pub request_timeout: Duration,
    /// When every wait of the run ends.
    pub deadline: Instant,
    /// Attempts of a retried GET (coreos-cloudinit: 15).
    pub max_attempts: u32,
    /// Hosts that may be contacted; `None` allows every host.
    pub allow_hosts: Option<Vec<String>>,
}

impl Policy {
    /// A policy with coreos-cloudinit's per-request timeout and attempts, ending at `deadline`.
    #[must_use]
    pub fn new(deadline: Instant) -> Self {
        Policy {
            request_timeout: Duration::from_secs(10),
            deadline,
            max_attempts: 15,
            allow_hosts: None,
        }
    }

    /// Time left before the deadline.
    #[must_use]
    pub fn left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Whether `url` may be contacted: an http(s) URL whose host is allowed.
    ///
    /// # Errors
    /// With the reason when it may not.
    pub fn check(&self, url: &str) -> Result<reqwest::Url, GetError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| GetError::Refused(format!("{url:?} is not a URL: {e}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(GetError::Refused(format!(
                "{url}: only http and https URLs can be fetched"
            )));
        }
        host_allowed(self.allow_hosts.as_deref(), &parsed)?;
        Ok(parsed)
    }
}

fn host_allowed(allow: Option<&[String]>, url: &reqwest::Url) -> Result<(), GetError> {
    let Some(allow) = allow else {
        return Ok(());
    };
    let host = url
        .host_str()
        .unwrap_or("")
        .trim_start_matches('[')
        .trim_end_matches(']');
    if allow
        .iter()
        .any(|a| a.trim_start_matches('[').trim_end_matches(']') == host)
    {
        Ok(())
    } else {
        Err(GetError::Refused(format!(
            "{url}: host {host} is not in --allow-hosts ({}); not contacted",
            allow.join(",")
        )))
    }
}

/// Why one request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GetError {
    /// Any 4xx: read as absent.
    #[error("{url}: HTTP {status} (read as absent)")]
    NotFound {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// Another non-2xx status (retried).
    #[error("{0}")]
    Server(String),
    /// Connection, timeout or body error (retried).
    #[error("{0}")]
    Network(String),
    /// The body is larger than the limit (not retried).
    #[error("{0}")]
    TooLarge(String),
    /// Refused before any connection (allow-list, scheme).
    #[error("{0}")]
    Refused(String),
}

impl From<GetError> for super::FetchError {
    fn from(e: GetError) -> Self {
        match e {
            GetError::TooLarge(m) => super::FetchError::Malformed(m),
            GetError::Refused(m) => super::FetchError::Refused(m),
            other => super::FetchError::Unreachable(other.to_string()),
        }
    }
}

/// An HTTP client for one source: its fixed headers and the run's policy.
#[derive(Debug, Clone)]
pub struct Client {
    inner: reqwest::Client,
    headers: HeaderMap,
    policy: Arc<Policy>,
}

impl Client {
    /// A client sending `headers` on every request. Metadata services are node-local, so
    /// `env_proxy` is false for them (a proxy cannot reach 169.254.169.254 for the node);
    /// user-data URLs honour the proxy environment.
    ///
    /// # Errors
    /// When a header is invalid or TLS cannot be set up.
    pub fn new(
        policy: Arc<Policy>,
        headers: &[(&str, &str)],
        env_proxy: bool,
    ) -> Result<Self, super::FetchError> {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            let name = HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| super::FetchError::Refused(format!("header {k}: {e}")))?;
            let value = HeaderValue::from_str(v)
                .map_err(|e| super::FetchError::Refused(format!("header {k}: {e}")))?;
            map.insert(name, value);
        }
        let allow = policy.allow_hosts.clone();
        let redirect = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 5 {
                return attempt.error("more than 5 redirects");
            }
            match host_allowed(allow.as_deref(), attempt.url()) {
                Ok(()) => attempt.follow(),
                Err(e) => attempt.error(e.to_string()),
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("kindling/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(policy.request_timeout)
            .redirect(redirect);
        if !env_proxy {
            builder = builder.no_proxy();
        }
        let inner = builder
            .build()
            .map_err(|e| super::FetchError::Refused(format!("HTTP client: {e}")))?;
        Ok(Client {
            inner,
            headers: map,
            policy,
        })
    }

    /// The run's policy.
    #[must_use]
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// One GET (no retry), body up to `limit` bytes.
    ///
    /// # Errors
    /// See [`GetError`].
    pub async fn get(
        &self,
        url: &str,
        extra: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<u8>, GetError> {
        self.once(reqwest::Method::GET, url, extra, limit).await
    }

    /// One request with an empty body (no retry; a PUT asks EC2 for a token), answer up to
    /// `limit` bytes.
    ///
    /// # Errors
    /// See [`GetError`].
    pub async fn once(
        &self,
        method: reqwest::Method,
        url: &str,
        extra: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<u8>, GetError> {
        let parsed = self.policy.check(url)?;
        let budget = self.policy.request_timeout.min(self.policy.left());
        if budget.is_zero() {
            return Err(GetError::Network(format!("{url}: the deadline has passed")));
        }
        let mut request = self
            .inner
            .request(method, parsed)
            .headers(self.headers.clone());
        for (k, v) in extra {
            request = request.header(*k, v.as_str());
        }
        let work =
            async {
                let mut response = request.send().await.map_err(|e| {
                    GetError::Network(format!("{url}: {}", crate::causes::chain(&e)))
                })?;
                let status = response.status();
                if status.is_client_error() {
                    return Err(GetError::NotFound {
                        url: url.to_string(),
                        status: status.as_u16(),
                    });
                }
                if !status.is_success() {
                    return Err(GetError::Server(format!("{url}: HTTP {}", status.as_u16())));
                }
                let too_large = || {
                    GetError::TooLarge(format!(
                        "{url}: the answer is larger than {} KiB; refused",
                        limit / 1024
                    ))
                };
                if response.content_length().is_some_and(|n| n > limit as u64) {
                    return Err(too_large());
                }
                let mut body = Vec::new();
                while let Some(chunk) = response.chunk().await.map_err(|e| {
                    GetError::Network(format!("{url}: {}", crate::causes::chain(&e)))
                })? {
                    if body.len() + chunk.len() > limit {
                        return Err(too_large());
                    }
                    body.extend_from_slice(&chunk);
                }
                Ok(body)
            };
        match tokio::time::timeout(budget, work).await {
            Ok(result) => result,
            Err(_) => Err(GetError::Network(format!(
                "{url}: no complete answer within {:.1} s",
                budget.as_secs_f64()
            ))),
        }
    }

    /// GET with coreos-cloudinit's retries: 5xx and transport errors are retried with a
    /// doubling backoff (100 ms up to 5 s) for at most `max_attempts` attempts and never past
    /// the deadline; 4xx, a too-large body and a refused URL end at once.
    ///
    /// # Errors
    /// The last error, with the number of attempts.
    pub async fn get_retry(
        &self,
        url: &str,
        extra: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<u8>, GetError> {
        let mut backoff = Duration::from_millis(50);
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get(url, extra, limit).await {
                Ok(body) => return Ok(body),
                Err(e @ (GetError::Server(_) | GetError::Network(_))) => {
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                    let left = self.policy.left();
                    if attempt >= self.policy.max_attempts || left <= backoff {
                        let why = if attempt >= self.policy.max_attempts {
                            format!("{attempt} attempts")
                        } else {
                            format!("{attempt} attempt(s), the deadline has come")
                        };
                        return Err(match e {
                            GetError::Server(m) => {
                                GetError::Server(format!("{m} (gave up after {why})"))
                            }
                            GetError::Network(m) => {
                                GetError::Network(format!("{m} (gave up after {why})"))
                            }
                            other => other,
                        });
                    }
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

impl Client {
    /// coreos-cloudinit's `FetchData`: a retried GET where a 4xx reads as empty.
    ///
    /// # Errors
    /// When the retries end without an answer, or the answer is too large.
    pub async fn fetch_data(
        &self,
        url: &str,
        extra: &[(&str, String)],
        limit: usize,
    ) -> Result<Vec<u8>, super::FetchError> {
        match self.get_retry(url, extra, limit).await {
            Ok(body) => Ok(body),
            Err(GetError::NotFound { .. }) => Ok(Vec::new()),
            Err(e) => Err(e.into()),
        }
    }

    /// coreos-cloudinit's `IsAvailable`: one GET that must answer 2xx.
    pub async fn availability(&self, url: &str, extra: &[(&str, String)]) -> super::Availability {
        match self.get(url, extra, super::MAX_METADATA).await {
            // A 2xx is all availability needs; a huge body is the fetch's problem.
            Ok(_) | Err(GetError::TooLarge(_)) => super::Availability::Available,
            Err(GetError::Refused(m)) => super::Availability::Never(m),
            Err(e) => super::Availability::NotYet(e.to_string()),
        }
    }
}

/// A metadata service's requests, each at a path under its root URL.
impl Client {
    /// [`Client::availability`] of `path` under `root`.
    pub async fn availability_under(&self, root: &str, path: &str) -> super::Availability {
        self.availability(&join(root, path), &[]).await
    }

    /// The user-data at `path` under `root` ([`Client::fetch_data`]: a 4xx is empty).
    ///
    /// # Errors
    /// As [`Client::fetch_data`].
    pub async fn user_data_under(
        &self,
        root: &str,
        path: &str,
    ) -> Result<Vec<u8>, super::FetchError> {
        self.fetch_data(&join(root, path), &[], super::MAX_USER_DATA)
            .await
    }

    /// The metadata document at `path` under `root`, read by `parse` (given the body and
    /// its URL, for messages).
    ///
    /// # Errors
    /// As [`Client::fetch_data`], or what `parse` says.
    pub async fn metadata_under(
        &self,
        root: &str,
        path: &str,
        parse: fn(&[u8], &str) -> Result<super::Metadata, super::FetchError>,
    ) -> Result<super::Metadata, super::FetchError> {
        let url = join(root, path);
        let body = self.fetch_data(&url, &[], super::MAX_METADATA).await?;
        parse(&body, &url)
    }
}

/// Join a metadata root and a path as coreos-cloudinit does: the root always ends in `/`.
#[must_use]
pub fn join(root: &str, path: &str) -> String {
    if root.ends_with('/') {
        format!("{root}{path}")
    } else {
        format!("{root}/{path}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_refuses_before_connecting() {
        let mut p = Policy::new(Instant::now() + Duration::from_secs(1));
        p.allow_hosts = Some(vec!["127.0.0.1".into(), "[::1]".into()]);
        assert!(p.check("http://127.0.0.1:9/x").is_ok());
        assert!(p.check("http://[::1]:9/x").is_ok());
        let err = p.check("http://192.0.2.1/x").unwrap_err();
        assert!(err.to_string().contains("not in --allow-hosts"), "{err}");
        assert!(matches!(
            p.check("file:///etc/passwd"),
            Err(GetError::Refused(_))
        ));
        assert_eq!(join("http://a/", "b"), "http://a/b");
        assert_eq!(join("http://a", "b"), "http://a/b");
    }
}
