//! `kindling::units::section`: unit-file lines systemd ignores: a section name in the
//! wrong case, or a setting before any section.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity, Span};
use crate::model::{Block, Spanned};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::section",
    severity: Severity::Error,
    summary: "a unit-file section systemd does not know because of its case, or a setting outside any section",
    help: "section names are case-sensitive: [Unit], [Service], [Install], [Timer] ...",
    explanation: "systemd ignores a section it does not know, with every setting in it: `[unit]` \
is not `[Unit]`, so its `After=` and `Requires=` silently vanish. Settings before the first \
section header are ignored too. The finding points at the line inside the `content: |` block.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [Unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
};

/// Section names of units, drop-ins and networkd files.
pub const KNOWN_SECTIONS: &[&str] = &[
    "Unit",
    "Install",
    "Service",
    "Socket",
    "Mount",
    "Automount",
    "Swap",
    "Timer",
    "Path",
    "Slice",
    "Scope",
    "Match",
    "Link",
    "Network",
    "Address",
    "Route",
    "RoutingPolicyRule",
    "DHCP",
    "DHCPv4",
    "DHCPv6",
    "DHCPServer",
    "IPv6AcceptRA",
    "IPv6Prefix",
    "Bridge",
    "BridgeFDB",
    "NetDev",
    "VLAN",
    "MACVLAN",
    "VXLAN",
    "Bond",
    "Tunnel",
    "Peer",
    "Tun",
    "Tap",
    "WireGuard",
    "WireGuardPeer",
    "CAN",
    "NextHop",
    "QDisc",
    "Neighbor",
    "SR-IOV",
];

/// Check unit and drop-in texts.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for unit in cx.config.units() {
        if let Some(content) = &unit.value.content {
            check_text(cx, content, out);
        }
        for drop_in in unit.value.drop_ins() {
            if let Some(content) = &drop_in.value.content {
                check_text(cx, content, out);
            }
        }
    }
}

fn check_text(cx: &Context<'_>, content: &Spanned<Block>, out: &mut Vec<Finding>) {
    let text = &content.value.text;
    let span_of = |k: usize| -> Span {
        cx.source
            .block_line_span(content.span, text, content.value.literal, k)
    };
    let mut in_section = false;
    let mut continued = false;
    for (k, raw) in text.split('\n').enumerate() {
        let line = raw.trim();
        let was_continued = continued;
        continued = line.ends_with('\\') && !line.starts_with(['#', ';']);
        if was_continued || line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = true;
            if KNOWN_SECTIONS.contains(&name) || name.starts_with("X-") {
                continue;
            }
            if let Some(right) = KNOWN_SECTIONS.iter().find(|s| s.eq_ignore_ascii_case(name)) {
                out.push(
                    RULE.at(
                        span_of(k),
                        format!(
                            "systemd does not know section [{name}]; every setting in it is ignored"
                        ),
                    )
                    .with_help(format!("section names are case-sensitive: write [{right}]")),
                );
            }
            continue;
        }
        if !in_section && line.contains('=') {
            out.push(
                RULE.at(
                    span_of(k),
                    "this setting comes before any [Section] header; systemd ignores it",
                )
                .with_help("start the unit with a section header such as [Unit] or [Service]"),
            );
        }
    }
}
