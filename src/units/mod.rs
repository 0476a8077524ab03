//! Unit files as systemd reads them: sections, directives and values, each with its
//! position inside the `content: |` block, plus what systemd 252 knows about them.
//!
//! `parse` follows systemd's config parser: blank lines and lines starting with `#` or
//! `;` are skipped, a trailing `\` continues a line, `[Section]` opens a section, and
//! `Key=Value` is trimmed on both sides. `directives` is systemd 252's own table of known
//! directives; `values` checks the common value types (booleans, time spans, enums, unit
//! names). Pure: the checks in `rules::units_*` turn what this finds into findings.

pub mod directives;
pub mod values;

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

/// One directive of a unit file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The section it is in (`None` before any section header).
    pub section: Option<String>,
    /// The key, e.g. `ExecStart`.
    pub key: String,
    /// The value, continuation lines joined with a space.
    pub value: String,
    /// 0-based line of the unit text where it starts.
    pub line: usize,
    /// Byte range of the key within that line.
    pub key_range: (usize, usize),
    /// Byte range of the value's first part within that line.
    pub value_range: (usize, usize),
}

/// A section header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Section {
    /// The name between the brackets.
    pub name: String,
    /// 0-based line.
    pub line: usize,
    /// Byte range of `[Name]` within the line.
    pub range: (usize, usize),
}

/// A line systemd cannot read (no `=` in a section, a bad header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    /// 0-based line.
    pub line: usize,
    /// Byte range within the line.
    pub range: (usize, usize),
    /// What systemd says about it.
    pub message: String,
}

/// A parsed unit file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnitText {
    /// Section headers in order.
    pub sections: Vec<Section>,
    /// Directives in order.
    pub directives: Vec<Directive>,
    /// Lines systemd ignores with a warning.
    pub bad_lines: Vec<BadLine>,
}

impl UnitText {
    /// The directives named `key` in `section`.
    pub fn get<'a>(
        &'a self,
        section: &'a str,
        key: &'a str,
    ) -> impl Iterator<Item = &'a Directive> + 'a {
        self.directives
            .iter()
            .filter(move |d| d.section.as_deref() == Some(section) && d.key == key)
    }

    /// The last value of `key` in `section` (later assignments win for single values).
    #[must_use]
    pub fn last(&self, section: &str, key: &str) -> Option<&str> {
        self.directives
            .iter()
            .rev()
            .find(|d| d.section.as_deref() == Some(section) && d.key == key)
            .map(|d| d.value.as_str())
    }

    /// Whether the text has a section header named `name`.
    #[must_use]
    pub fn has_section(&self, name: &str) -> bool {
        self.sections.iter().any(|s| s.name == name)
    }
}

/// Parse a unit file's text.
#[must_use]
pub fn parse(text: &str) -> UnitText {
    let mut out = UnitText::default();
    let mut section: Option<String> = None;
    let mut lines = text.split('\n').enumerate().peekable();
    while let Some((n, raw)) = lines.next() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let lead = raw.len() - raw.trim_start().len();
        let line = raw.trim();
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') {
            match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                Some(name) if !name.is_empty() && !name.contains(['[', ']']) => {
                    out.sections.push(Section {
                        name: name.to_string(),
                        line: n,
                        range: (lead, lead + line.len()),
                    });
                    section = Some(name.to_string());
                }
                _ => out.bad_lines.push(BadLine {
                    line: n,
                    range: (lead, lead + line.len()),
                    message: "this section header is not of the form [Name]".into(),
                }),
            }
            continue;
        }
        // Join continuation lines: a trailing backslash continues on the next line;
        // comment lines in between are skipped, as systemd does.
        let mut value_line = line.to_string();
        while value_line.ends_with('\\') {
            value_line.pop();
            value_line.push(' ');
            loop {
                match lines.peek() {
                    Some((_, next)) if next.trim().starts_with(['#', ';']) => {
                        lines.next();
                    }
                    _ => break,
                }
            }
            match lines.next() {
                Some((_, next)) => value_line.push_str(next.trim()),
                None => break,
            }
        }
        let Some(eq) = line.find('=') else {
            out.bad_lines.push(BadLine {
                line: n,
                range: (lead, lead + line.len()),
                message: format!("{line:?} has no '='; systemd ignores the line"),
            });
            continue;
        };
        let key = line[..eq].trim_end();
        let value_start = eq + 1 + (line[eq + 1..].len() - line[eq + 1..].trim_start().len());
        let joined_value = value_line.get(eq + 1..).unwrap_or("").trim().to_string();
        out.directives.push(Directive {
            section: section.clone(),
            key: key.to_string(),
            value: joined_value,
            line: n,
            key_range: (lead, lead + key.len()),
            value_range: (
                lead + value_start,
                lead + line
                    .trim_end_matches('\\')
                    .trim_end()
                    .len()
                    .max(value_start),
            ),
        });
    }
    out
}

/// What a unit's file name says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnitKind {
    /// A unit of this systemd type; the name of its own section (`Service`), if it has one.
    Systemd(Option<&'static str>),
    /// A systemd-networkd file (.network, .netdev, .link).
    Network,
}

/// Unit type suffixes and their own sections.
pub const SUFFIXES: &[(&str, Option<&str>)] = &[
    ("service", Some("Service")),
    ("socket", Some("Socket")),
    ("timer", Some("Timer")),
    ("mount", Some("Mount")),
    ("automount", Some("Automount")),
    ("swap", Some("Swap")),
    ("path", Some("Path")),
    ("slice", Some("Slice")),
    ("scope", Some("Scope")),
    ("target", None),
    ("device", None),
];

/// The kind of a unit name, or `None` when its suffix is no unit type.
#[must_use]
pub fn kind(name: &str) -> Option<UnitKind> {
    let (_, suffix) = name.rsplit_once('.')?;
    if matches!(suffix, "network" | "netdev" | "link") {
        return Some(UnitKind::Network);
    }
    SUFFIXES
        .iter()
        .find(|(s, _)| *s == suffix)
        .map(|(_, section)| UnitKind::Systemd(*section))
}

/// The directives systemd 252 knows in `section`, if it knows the section.
#[must_use]
pub fn known_directives(section: &str) -> Option<&'static [&'static str]> {
    directives::SECTIONS
        .iter()
        .find(|(name, _)| *name == section)
        .map(|(_, keys)| *keys)
}

/// The sections a unit of this kind may have (besides `X-` ones).
#[must_use]
pub fn allowed_sections(kind: UnitKind) -> Vec<&'static str> {
    match kind {
        UnitKind::Systemd(own) => {
            let mut v = vec!["Unit", "Install"];
            v.extend(own);
            v
        }
        UnitKind::Network => KNOWN_SECTIONS.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_systemd() {
        let u = parse(
            "# c\n[Unit]\nDescription = hello \n\n[Service]\nExecStart=/bin/sh -c \\\n  'echo hi'\nBroken line\n[bad\n",
        );
        assert_eq!(u.sections.len(), 2);
        assert_eq!(u.directives[0].key, "Description");
        assert_eq!(u.directives[0].value, "hello");
        assert_eq!(u.directives[0].key_range, (0, 11));
        assert_eq!(u.directives[1].value, "/bin/sh -c  'echo hi'");
        assert_eq!(u.directives[1].line, 5);
        assert_eq!(u.bad_lines.len(), 2);
        assert_eq!(
            u.last("Service", "ExecStart"),
            Some("/bin/sh -c  'echo hi'")
        );
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("a.service"), Some(UnitKind::Systemd(Some("Service"))));
        assert_eq!(kind("a.target"), Some(UnitKind::Systemd(None)));
        assert_eq!(kind("10-eth0.network"), Some(UnitKind::Network));
        assert_eq!(kind("a.serivce"), None);
        assert_eq!(kind("docker"), None);
        assert!(known_directives("Service").unwrap().contains(&"ExecStart"));
    }
}
