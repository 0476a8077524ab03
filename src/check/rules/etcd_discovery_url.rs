//! `kindling::etcd::discovery-url`: an etcd or etcd2 discovery value that is not a URL.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::etcd_discovery_url`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::etcd_discovery_url::RULE;

/// Whether `text` passes Go's `url.ParseRequestURI`: an absolute URI or absolute path,
/// with no spaces or control characters.
#[must_use]
pub fn is_request_uri(text: &str) -> bool {
    if text.chars().any(|c| c.is_ascii_control() || c == ' ') {
        return false;
    }
    if text.starts_with('/') {
        return true;
    }
    let Some((scheme, _)) = text.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// Check both discovery keys.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(coreos) = &cx.config.coreos else {
        return;
    };
    let etcd = coreos
        .value
        .etcd
        .as_ref()
        .and_then(|e| e.value.discovery.as_ref());
    let etcd2 = coreos
        .value
        .etcd2
        .as_ref()
        .and_then(|e| e.value.discovery.as_ref());
    for (section, value) in [("etcd", etcd), ("etcd2", etcd2)] {
        let Some(value) = value else { continue };
        if !value.value.is_empty() && !is_request_uri(&value.value) {
            out.push(RULE.at(
                value.span,
                format!("coreos.{section}.discovery {:?} is not a URL", value.value),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn request_uris() {
        assert!(super::is_request_uri("https://discovery.etcd.io/x"));
        assert!(super::is_request_uri("http://custom.domain/x"));
        assert!(super::is_request_uri("/path"));
        assert!(!super::is_request_uri("disco"));
        assert!(!super::is_request_uri("http://a b"));
        assert!(!super::is_request_uri("1http://x"));
    }
}
