//! `kindling::etcd::discovery-url`: an etcd or etcd2 discovery value that is not a URL.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::etcd::discovery-url",
    severity: Severity::Warning,
    summary: "an etcd discovery value that is not a URL",
    help: "use the full discovery URL, e.g. https://discovery.etcd.io/<token>",
    explanation: "`discovery` must be an absolute URL (or an absolute path), as Go's \
`url.ParseRequestURI` requires. coreos-cloudinit checks only `coreos.etcd.discovery`; kindling \
checks `coreos.etcd2.discovery` too.",
    example: "#cloud-config\ncoreos:\n  etcd2:\n    discovery: 6a28e078895c5ec737174db2419bb2f3\n",
    fixed: "#cloud-config\ncoreos:\n  etcd2:\n    discovery: https://discovery.etcd.io/6a28e078895c5ec737174db2419bb2f3\n",
};

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
