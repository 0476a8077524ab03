//! The HTTP client for payloads: rustls, a bounded connect timeout, extra CA certificates
//! for private update servers, and the proxies of the environment (`ALL_PROXY`,
//! `HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY` and their lower-case spellings, the upper-case one
//! winning, a scheme-specific proxy before `ALL_PROXY`, as curl and update_engine do). The
//! variables are read into a [`ProxyEnv`] once and handed to reqwest explicitly, so what is
//! used is exactly what was read (and tests can pass their own without touching the
//! process environment), and a bad value is a clear error instead of a silent direct
//! connection.

use std::net::{IpAddr, SocketAddr};
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
    /// Names answered without asking the system resolver (as curl's `--resolve`), each
    /// address still judged by [`Resolver`] like a looked-up one.
    pub resolve: Vec<(String, IpAddr)>,
}

/// The client's resolver: the system's (tokio's `lookup_host`, getaddrinfo), or a pinned
/// answer from [`ClientOptions::resolve`], with every address a payload may not come from
/// ([`super::offer::refused_address`]: link-local, multicast, broadcast, unspecified)
/// dropped before reqwest sees it. A name with no other address is an error naming the
/// name and the address, so a host NAME that resolves to 169.254.169.254 is refused at
/// connection time exactly as that address written in the URL is, and never connected to.
/// (Through a proxy the proxy resolves the target; only the proxy's own name passes here.)
#[derive(Debug, Clone, Default)]
pub struct Resolver {
    pinned: Vec<(String, IpAddr)>,
}

/// A name whose every address is one a payload may not come from.
#[derive(Debug)]
pub struct RefusedName {
    /// The name looked up.
    pub host: String,
    /// Its (first) refused address.
    pub address: IpAddr,
    /// What kind of address it is ("a link-local").
    pub what: &'static str,
}

impl std::fmt::Display for RefusedName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} resolves to {}, {} address; kindling fetches payloads and signatures only \
             from routable or loopback addresses",
            self.host, self.address, self.what
        )
    }
}

impl std::error::Error for RefusedName {}

impl Resolver {
    /// Keep the addresses of `host` a payload may come from; none left is [`RefusedName`]
    /// (an empty answer stays empty: reqwest reports it).
    ///
    /// # Errors
    /// [`RefusedName`] when every address was refused.
    pub fn filter(host: &str, addrs: Vec<SocketAddr>) -> Result<Vec<SocketAddr>, RefusedName> {
        let mut refused = None;
        let kept: Vec<SocketAddr> = addrs
            .into_iter()
            .filter(|a| match super::offer::refused_address(a.ip()) {
                Some(what) => {
                    refused.get_or_insert((a.ip(), what));
                    false
                }
                None => true,
            })
            .collect();
        match refused {
            Some((address, what)) if kept.is_empty() => Err(RefusedName {
                host: host.to_string(),
                address,
                what,
            }),
            _ => Ok(kept),
        }
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let pinned: Vec<SocketAddr> = self
            .pinned
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(&host))
            .map(|&(_, ip)| SocketAddr::new(ip, 0))
            .collect();
        Box::pin(async move {
            let addrs = if pinned.is_empty() {
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect()
            } else {
                pinned
            };
            let kept = Resolver::filter(&host, addrs)?;
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Build the HTTP client for payload downloads.
pub fn client(options: &ClientOptions) -> Result<reqwest::Client, PayloadError> {
    let mut builder = reqwest::Client::builder()
        // Proxies are exactly the ones below, never read again behind our back.
        .no_proxy()
        .connect_timeout(options.timeouts.connect)
        .user_agent(concat!("kindling/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true)
        // Every name resolved is judged by its addresses too, not only an address in a URL.
        .dns_resolver(std::sync::Arc::new(Resolver {
            pinned: options.resolve.clone(),
        }))
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
