//! `kindling::update::proxy`: the update-engine proxy URL.

use crate::diagnostic::{Rule, Severity};

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
