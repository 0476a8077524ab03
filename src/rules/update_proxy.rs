//! `kindling::update::proxy`: the update-engine proxy URL.

use crate::diagnostic::{Rule, Severity};
use crate::model::ValueRule;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::update::proxy",
    severity: Severity::Error,
    summary: "an update proxy that is not a proxy URL",
    help: "write the proxy as a URL: http://HOST:PORT, https://..., socks5://...",
    explanation: "`coreos.update.proxy` (a kindling extension) becomes `ALL_PROXY` for \
update-engine, which passes it to libcurl. It must be a URL with a scheme curl knows for \
proxies (http, https, socks4, socks4a, socks5, socks5h) and a host, without blanks.",
    example: "#cloud-config\ncoreos:\n  update:\n    proxy: proxy.example.com:3128\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    proxy: http://proxy.example.com:3128\n",
};

/// The value check.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    if text.chars().any(char::is_whitespace) {
        return Err(format!("{text:?} contains a blank"));
    }
    let Some((scheme, rest)) = text.split_once("://") else {
        return Err(format!("{text:?} has no scheme; write http://{text}"));
    };
    if !matches!(
        scheme,
        "http" | "https" | "socks4" | "socks4a" | "socks5" | "socks5h"
    ) {
        return Err(format!(
            "{scheme:?} is not a proxy scheme (http, https, socks4, socks4a, socks5, socks5h)"
        ));
    }
    let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    if host.is_empty() || host.starts_with([':', '/']) {
        return Err(format!("{text:?} has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn proxies() {
        for ok in ["http://p:3128", "https://u:pw@p", "socks5h://10.0.0.1:1080"] {
            assert!(super::check(ok).is_ok(), "{ok}");
        }
        for bad in ["p:3128", "ftp://p", "http://", "http://:80", "http://p q"] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
