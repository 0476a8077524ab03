//! [`Expected`]: what the update check promised about a payload (its URL, size, SHA-256 and
//! signature URL), and the checks that an offer is usable before anything is downloaded.

use base64::Engine as _;

use super::PayloadError;

/// What the update check promised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// The payload's URL (codebase + package name), http:// or https://.
    pub url: String,
    /// Its size in bytes (the package's `size`).
    pub size: u64,
    /// Its SHA-256, base64 (the postinstall action's `sha256`).
    pub sha256_b64: String,
    /// Where the minisign signature is; `None` means `url` + `.minisig`.
    pub signature_url: Option<String>,
}

impl Expected {
    /// The signature's URL.
    #[must_use]
    pub fn signature_url(&self) -> String {
        self.signature_url
            .clone()
            .unwrap_or_else(|| format!("{}.minisig", self.url))
    }

    /// The expected digest, decoded.
    pub(crate) fn sha256(&self) -> Result<[u8; 32], PayloadError> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(self.sha256_b64.trim())
            .map_err(|e| PayloadError::BadOffer {
                reason: format!("sha256 {:?} is not base64: {e}", self.sha256_b64),
            })?;
        let digest =
            <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| PayloadError::BadOffer {
                reason: format!(
                    "sha256 {:?} is {} bytes, not the 32 of a SHA-256",
                    self.sha256_b64,
                    bytes.len()
                ),
            })?;
        if self.size == 0 {
            return Err(PayloadError::BadOffer {
                reason: "the payload size is 0".into(),
            });
        }
        Ok(digest)
    }

    pub(crate) fn check_url(&self, url: &str) -> Result<(), PayloadError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| PayloadError::BadOffer {
            reason: format!("{url:?} is not a URL: {e}"),
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(PayloadError::BadOffer {
                reason: format!("{url:?} is not an http:// or https:// URL"),
            });
        }
        check_address(&parsed)
    }
}

/// Refuse `url` when its host is an address a payload may not come from ([`refused_address`]).
///
/// # Errors
/// A bad offer naming the URL and the kind of address.
pub(crate) fn check_address(url: &reqwest::Url) -> Result<(), PayloadError> {
    match url_address(url).and_then(refused_address) {
        Some(what) => Err(PayloadError::BadOffer {
            reason: format!(
                "{:?} is at {what} address; kindling fetches payloads and signatures only \
                 from routable or loopback addresses",
                url.as_str()
            ),
        }),
        None => Ok(()),
    }
}

/// The address a URL's host is written as, when it is one (`[fe80::1]` included).
fn url_address(url: &reqwest::Url) -> Option<std::net::IpAddr> {
    let host = url.host_str()?;
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// What kind of address `ip` is when a payload may not come from it: link-local (where a
/// cloud's metadata service answers, 169.254.169.254), multicast, broadcast or unspecified.
/// An IPv4 address written as IPv6 (`::ffff:169.254.169.254`) is judged as IPv4.
#[must_use]
pub fn refused_address(ip: std::net::IpAddr) -> Option<&'static str> {
    use std::net::IpAddr;
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 @ IpAddr::V4(_) => v4,
    };
    if ip.is_unspecified() {
        return Some("an unspecified");
    }
    if ip.is_multicast() {
        return Some("a multicast");
    }
    match ip {
        IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local"),
        IpAddr::V4(v4) if v4.is_broadcast() => Some("a broadcast"),
        IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("a link-local"),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offer(url: &str) -> Expected {
        Expected {
            url: url.into(),
            size: 1,
            sha256_b64: String::new(),
            signature_url: None,
        }
    }

    #[test]
    fn payloads_at_link_local_multicast_or_unspecified_addresses_are_refused() {
        for url in [
            "http://169.254.169.254/latest/user-data",
            "http://169.254.1.1:8080/p.raw",
            "http://[fe80::1]/p.raw",
            "http://[::ffff:169.254.169.254]/p.raw",
            "http://224.0.0.1/p.raw",
            "http://[ff02::1]/p.raw",
            "http://0.0.0.0/p.raw",
            "http://[::]/p.raw",
            "http://255.255.255.255/p.raw",
        ] {
            let err = offer(url).check_url(url).expect_err(url).to_string();
            assert!(err.contains("address; kindling fetches payloads"), "{err}");
        }
        for url in [
            "http://127.0.0.1:8080/p.raw",
            "http://[::1]/p.raw",
            "https://update.example.com/p.raw",
            "http://10.0.0.1/p.raw",
            "http://169.255.0.1/p.raw",
        ] {
            assert!(offer(url).check_url(url).is_ok(), "{url}");
        }
    }
}
