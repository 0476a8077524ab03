//! The Omaha client the agent uses: update checks, pings and events POSTed to one server
//! with reqwest on tokio. reqwest's defaults are kept on purpose: it honours `ALL_PROXY`,
//! `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` (the update-engine proxy drop-in sets them).
//! Responses are read up to 1 MiB and no further; every failure says whether the
//! transport, the HTTP status or the document was at fault, and which update_engine error
//! code a node would report for it.

use std::time::Duration;

use thiserror::Error;

use super::event::{Event, code};
use super::request::{self, AppInfo};
use super::response::{self, Response, ResponseError};
use crate::xml::{self, RESPONSE_LIMITS};

/// go-omaha's client timeout for one request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(90);
/// How long connecting may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a request failed.
#[derive(Debug, Error)]
pub enum ClientError {
    /// The server URL is not an http(s) URL with a host.
    #[error("the update server URL {url:?} is not usable: {reason}")]
    Url {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The HTTP client could not be built (TLS roots, proxy settings).
    #[error("cannot set up the HTTP client: {0}")]
    Setup(#[source] reqwest::Error),
    /// Connecting, sending or receiving failed (includes timeouts and proxy failures).
    #[error("cannot reach the update server {url}: {source}")]
    Transport {
        /// The endpoint.
        url: String,
        /// reqwest's error.
        #[source]
        source: reqwest::Error,
    },
    /// Connecting, or the whole request, took longer than its limit.
    #[error("the update server {url} did not answer in time: {what} timed out after {} s", after.as_secs())]
    TimedOut {
        /// The endpoint.
        url: String,
        /// What timed out: `connecting` or `the request`.
        what: &'static str,
        /// The limit that passed.
        after: Duration,
    },
    /// The server answered with a status other than 200.
    #[error("the update server answered HTTP {status}{}", app_status.as_ref().map(|s| format!(" (application status {s:?})")).unwrap_or_default())]
    HttpStatus {
        /// The HTTP status.
        status: u16,
        /// The `<app status>` of the body, when the body is an Omaha response (go-omaha
        /// answers an unknown app id with 400 and `error-unknownApplication`).
        app_status: Option<String>,
    },
    /// The body is larger than the limit.
    #[error("the update server's response is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The body is not a usable Omaha response.
    #[error("the update server's response is not usable: {0}")]
    Response(#[from] ResponseError),
}

impl ClientError {
    /// The update_engine error code a node reports for this failure: 2000 + the HTTP
    /// status (2000 when there was no response), 30/31/34 for the document.
    #[must_use]
    pub fn error_code(&self) -> i32 {
        match self {
            ClientError::Url { .. } | ClientError::Setup(_) => code::OMAHA_REQUEST_ERROR,
            ClientError::Transport { .. } | ClientError::TimedOut { .. } => {
                code::HTTP_RESPONSE_BASE
            }
            ClientError::HttpStatus { status, .. } => {
                code::HTTP_RESPONSE_BASE + i32::from((*status).min(999))
            }
            ClientError::TooLarge { .. } => code::OMAHA_REQUEST_XML_PARSE_ERROR,
            ClientError::Response(e) => e.error_code(),
        }
    }

    /// Whether a later retry may succeed (transport failures and 5xx statuses).
    #[must_use]
    pub fn is_transient(&self) -> bool {
        match self {
            ClientError::Transport { .. } | ClientError::TimedOut { .. } => true,
            ClientError::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }
}

/// A client for one Omaha server.
#[derive(Debug, Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    /// The limit of one request (connecting has [`CONNECT_TIMEOUT`] at most).
    timeout: Duration,
}

impl Client {
    /// A client for `server_url` (update.conf's `SERVER`). As go-omaha does, a URL with an
    /// empty path gets `/v1/update/`.
    ///
    /// # Errors
    /// [`ClientError::Url`] for a URL that is not http(s) with a host;
    /// [`ClientError::Setup`] when reqwest cannot be set up.
    pub fn new(server_url: &str) -> Result<Client, ClientError> {
        Client::with_timeout(server_url, DEFAULT_TIMEOUT)
    }

    /// [`Client::new`] with another timeout for each request.
    ///
    /// # Errors
    /// As [`Client::new`].
    pub fn with_timeout(server_url: &str, timeout: Duration) -> Result<Client, ClientError> {
        let url = endpoint(server_url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("kindling/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            .timeout(timeout)
            .build()
            .map_err(ClientError::Setup)?;
        Ok(Client { http, url, timeout })
    }

    /// The endpoint requests go to.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// An update check, with the boot event update_engine attaches (3/2, or 3/0 error 44
    /// after a rollback; see [`AppInfo::previous_version`]).
    ///
    /// # Errors
    /// [`ClientError`]: transport, HTTP status, body size, or an unusable response.
    pub async fn check(&self, app: &AppInfo) -> Result<Response, ClientError> {
        let body = self.post(request::update_check(app)).await?;
        Ok(response::parse(&body, &app.app_id)?)
    }

    /// An event (download started/finished, installed, an error). Like update_engine, only
    /// the transfer and the HTTP status count; the body need not acknowledge the event.
    ///
    /// # Errors
    /// [`ClientError`]: transport, HTTP status, body size.
    pub async fn event(&self, app: &AppInfo, event: Event) -> Result<(), ClientError> {
        self.post(request::event(app, &event)).await.map(drop)
    }

    /// A ping without an update check (update_engine's request while a reboot is pending).
    ///
    /// # Errors
    /// As [`Client::event`].
    pub async fn ping(&self, app: &AppInfo) -> Result<(), ClientError> {
        self.post(request::ping(app)).await.map(drop)
    }

    async fn post(&self, body: Vec<u8>) -> Result<Vec<u8>, ClientError> {
        // A timeout is said as one: "cannot reach" would send the reader to the network.
        let transport = |source: reqwest::Error| {
            if source.is_timeout() {
                let (what, after) = if source.is_connect() {
                    ("connecting", CONNECT_TIMEOUT.min(self.timeout))
                } else {
                    ("the request", self.timeout)
                };
                ClientError::TimedOut {
                    url: self.url.clone(),
                    what,
                    after,
                }
            } else {
                ClientError::Transport {
                    url: self.url.clone(),
                    source,
                }
            }
        };
        let mut resp = self
            .http
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "text/xml")
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status().as_u16();
        let limit = RESPONSE_LIMITS.max_bytes;
        if resp.content_length().is_some_and(|n| n > limit as u64) {
            return Err(ClientError::TooLarge { limit });
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > limit {
                return Err(ClientError::TooLarge { limit });
            }
            body.extend_from_slice(&chunk);
        }
        if status != 200 {
            let app_status = xml::parse(&body, &RESPONSE_LIMITS).ok().and_then(|root| {
                root.child("app")
                    .and_then(|a| a.attr("status"))
                    .map(str::to_string)
            });
            return Err(ClientError::HttpStatus { status, app_status });
        }
        Ok(body)
    }
}

fn endpoint(server_url: &str) -> Result<String, ClientError> {
    let bad = |reason: &str| ClientError::Url {
        url: server_url.to_string(),
        reason: reason.to_string(),
    };
    let mut url = reqwest::Url::parse(server_url.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("there is no host"));
    }
    if url.path().is_empty() || url.path() == "/" {
        url.set_path("/v1/update/");
    }
    Ok(url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_defaults_the_path_like_go_omaha() {
        assert_eq!(
            endpoint("http://127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080/v1/update/"
        );
        assert_eq!(
            endpoint("https://u.example/v1/update/").unwrap(),
            "https://u.example/v1/update/"
        );
        assert_eq!(endpoint("http://h/omaha").unwrap(), "http://h/omaha");
        assert!(matches!(endpoint("ftp://h/"), Err(ClientError::Url { .. })));
        assert!(matches!(
            endpoint("not a url"),
            Err(ClientError::Url { .. })
        ));
    }

    #[test]
    fn error_codes_are_update_engines() {
        let e = ClientError::HttpStatus {
            status: 404,
            app_status: None,
        };
        assert_eq!(e.error_code(), 2404);
        assert!(!e.is_transient());
        assert_eq!(
            ClientError::Response(ResponseError::MissingSha256).error_code(),
            34
        );
        assert_eq!(ClientError::TooLarge { limit: 1 }.error_code(), 31);
    }
}
