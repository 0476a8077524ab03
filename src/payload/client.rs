//! The HTTP client for payloads: rustls, a bounded connect timeout, extra CA certificates
//! for private update servers, and the proxies of the environment (`ALL_PROXY`,
//! `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` and their lower-case spellings, the upper-case one
//! winning, a scheme-specific proxy before `ALL_PROXY`, as curl and update_engine do). The
//! variables are read into a [`ProxyEnv`] once and handed to reqwest explicitly, so what is
//! used is exactly what was read (and tests can pass their own without touching the
//! process environment), and a bad value is a clear error instead of a silent direct
//! connection.

use std::path::PathBuf;
use std::time::Duration;

use super::PayloadError;
use crate::causes::chain;

/// The proxy settings, as read from the environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `ALL_PROXY`: for every scheme without its own proxy.
    pub all: Option<String>,
    /// `HTTP_PROXY`: for http:// URLs.
    pub http: Option<String>,
    /// `HTTPS_PROXY`: for https:// URLs (through CONNECT).
    pub https: Option<String>,
    /// `NO_PROXY`: hosts, domains, IPs and CIDR ranges reached directly (`*` for all).
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Read the variables from this process's environment.
    #[must_use]
    pub fn from_process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Read the variables through `get` (upper case first, then lower case; empty values
    /// count as unset).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Self {
        let first = |upper: &str| {
            [upper.to_string(), upper.to_ascii_lowercase()]
                .iter()
                .find_map(|n| get(n).filter(|v| !v.trim().is_empty()))
        };
        Self {
            all: first("ALL_PROXY"),
            http: first("HTTP_PROXY"),
            https: first("HTTPS_PROXY"),
            no_proxy: first("NO_PROXY"),
        }
    }
}

/// Time limits of a download. A slow or dead server always ends in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Establishing the TCP (and TLS, and proxy) connection.
    pub connect: Duration,
    /// Waiting for the response headers or for the next bytes of the body.
    pub stall: Duration,
    /// The lowest acceptable average rate in bytes per second...
    pub low_speed_limit: u64,
    /// ...measured over windows of this length.
    pub low_speed_window: Duration,
}

impl Default for Timeouts {
    /// 30 s to connect (update_engine's libcurl setting), 90 s without a byte, and at least
    /// 1 KiB/s over each 5 minutes.
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(30),
            stall: Duration::from_secs(90),
            low_speed_limit: 1024,
            low_speed_window: Duration::from_secs(300),
        }
    }
}

/// How to build the client.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// The proxies (usually [`ProxyEnv::from_process`]).
    pub proxy: ProxyEnv,
    /// Time limits; only `connect` is used by the client itself.
    pub timeouts: Timeouts,
    /// PEM files of CA certificates to trust in addition to the built-in roots.
    pub extra_roots: Vec<PathBuf>,
}

/// Build the HTTP client for payload downloads.
pub fn client(options: &ClientOptions) -> Result<reqwest::Client, PayloadError> {
    let mut builder = reqwest::Client::builder()
        // Proxies are exactly the ones below, never read again behind our back.
        .no_proxy()
        .connect_timeout(options.timeouts.connect)
        .user_agent(concat!("kindling/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        // reqwest's default (at most 10 redirects), and never to an address a payload may
        // not come from (a redirect to 169.254.169.254 is refused like such a URL).
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else if let Err(refused) = super::offer::check_address(attempt.url()) {
                attempt.error(refused.to_string())
            } else {
                attempt.follow()
            }
        }));
    let no_proxy = options
        .proxy
        .no_proxy
        .as_deref()
        .and_then(reqwest::NoProxy::from_string);
    // reqwest asks the proxies in the order they were added: the scheme's own first.
    let p = &options.proxy;
    for (var, value, make) in [
        (
            "HTTP_PROXY",
            &p.http,
            reqwest::Proxy::http::<String> as fn(String) -> reqwest::Result<reqwest::Proxy>,
        ),
        ("HTTPS_PROXY", &p.https, reqwest::Proxy::https::<String>),
        ("ALL_PROXY", &p.all, reqwest::Proxy::all::<String>),
    ] {
        if let Some(value) = value {
            let url = proxy_url(var, value)?;
            let proxy = make(url).map_err(|e| PayloadError::Proxy {
                var: var.into(),
                value: value.clone(),
                reason: e.to_string(),
            })?;
            builder = builder.proxy(proxy.no_proxy(no_proxy.clone()));
        }
    }
    for path in &options.extra_roots {
        let pem = std::fs::read(path).map_err(|e| PayloadError::Client {
            reason: format!("cannot read CA certificate {}: {e}", path.display()),
        })?;
        let certs =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| PayloadError::Client {
                reason: format!("{} is not a PEM certificate: {e}", path.display()),
            })?;
        for cert in certs {
            builder = builder.add_root_certificate(cert);
        }
    }
    builder
        .build()
        .map_err(|e| PayloadError::Client { reason: chain(&e) })
}

/// A proxy URL as curl reads it: no scheme means http://; only http and https proxies.
fn proxy_url(var: &str, value: &str) -> Result<String, PayloadError> {
    let value = value.trim();
    let url = if value.contains("://") {
        value.to_string()
    } else {
        format!("http://{value}")
    };
    let scheme = url.split("://").next().unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(PayloadError::Proxy {
            var: var.into(),
            value: value.into(),
            reason: format!("{scheme}:// proxies are not supported, only http:// and https://"),
        });
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upper_case_wins_and_empty_is_unset() {
        let env = ProxyEnv::from_lookup(|n| match n {
            "ALL_PROXY" => Some(String::new()),
            "all_proxy" => Some("http://a:1".into()),
            "HTTP_PROXY" => Some("http://b:2".into()),
            "http_proxy" => Some("http://c:3".into()),
            "no_proxy" => Some("127.0.0.1".into()),
            _ => None,
        });
        assert_eq!(env.all.as_deref(), Some("http://a:1"));
        assert_eq!(env.http.as_deref(), Some("http://b:2"));
        assert_eq!(env.https, None);
        assert_eq!(env.no_proxy.as_deref(), Some("127.0.0.1"));
    }

    #[test]
    fn proxy_urls() {
        assert_eq!(proxy_url("X", "proxy:3128").unwrap(), "http://proxy:3128");
        let e = proxy_url("ALL_PROXY", "socks5://h:1").unwrap_err();
        assert_eq!(e.kind(), "proxy");
        assert!(e.to_string().contains("ALL_PROXY"), "{e}");
    }
}
