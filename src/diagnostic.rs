//! Findings: what every stage reports about an input, as data.
//!
//! A [`Finding`] names the [`Rule`] it comes from (its stable code, default severity
//! and help), carries a message specific to this occurrence and the exact byte
//! [`Span`] in the source text it points at. Stages only ever *return* findings; how they
//! are shown (miette, JSON) is decided in `report`. Nothing here does I/O.

use std::fmt;

/// A byte range `[start, end)` in a source text. Line and column are derived on demand
/// from the text (see `source::LineIndex`), so a span stays valid through every stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span {
    /// First byte.
    pub start: usize,
    /// One past the last byte.
    pub end: usize,
}

impl Span {
    /// A span over `start..end`.
    #[must_use]
    pub const fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// A zero-width span at `at`.
    #[must_use]
    pub const fn point(at: usize) -> Self {
        Span { start: at, end: at }
    }

    /// Length in bytes.
    #[must_use]
    pub const fn len(self) -> usize {
        self.end.saturating_sub(self.start)
    }

    /// Whether the span covers no byte.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.len() == 0
    }
}

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; never fails a run.
    Info,
    /// Probably a mistake; fails a run only under `--strict`.
    Warning,
    /// The node would not get what the config says; always fails a run.
    Error,
}

impl Severity {
    /// The lowercase word used in every output format.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One entry of the rule catalogue: the stable identity of a kind of finding.
///
/// Every rule lives in its own file under `src/rules/` and is listed once in
/// `rules::ALL`; its book page is `book/src/codes/<code without prefix>.md`.
#[derive(Debug)]
pub struct Rule {
    /// Stable code, e.g. `kindling::structure::unknown-key`.
    pub code: &'static str,
    /// Severity unless a finding says otherwise.
    pub severity: Severity,
    /// One line: what the rule is about.
    pub summary: &'static str,
    /// Default help shown under every finding of this rule.
    pub help: &'static str,
    /// A paragraph for the book: why this matters on a node.
    pub explanation: &'static str,
    /// A config that triggers the rule (empty when no config text can show it).
    pub example: &'static str,
    /// The same config, fixed.
    pub fixed: &'static str,
}

/// The prefix every code starts with.
pub const CODE_PREFIX: &str = "kindling::";

impl Rule {
    /// A finding of this rule at `span`, with the rule's severity and help.
    #[must_use]
    pub fn at(&'static self, span: Span, message: impl Into<String>) -> Finding {
        Finding {
            rule: self,
            severity: self.severity,
            message: message.into(),
            span,
            help: None,
            related: Vec::new(),
            nodes: None,
        }
    }

    /// The code without the `kindling::` prefix, `::` turned into `/`:
    /// `structure/unknown-key`. This is the book page's path below `codes/`.
    #[must_use]
    pub fn slug(&self) -> String {
        self.code
            .strip_prefix(CODE_PREFIX)
            .unwrap_or(self.code)
            .replace("::", "/")
    }

    /// Where the rule is documented, relative to the book's root.
    #[must_use]
    pub fn doc_path(&self) -> String {
        format!("codes/{}.md", self.slug())
    }
}

/// A secondary location that explains a finding (e.g. the first of two duplicate keys).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Related {
    /// Where.
    pub span: Span,
    /// What is there.
    pub label: String,
}

/// One thing wrong (or worth knowing) about an input.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The rule this finding belongs to.
    pub rule: &'static Rule,
    /// Severity (the rule's unless overridden).
    pub severity: Severity,
    /// What is wrong here, in one sentence.
    pub message: String,
    /// The offending key or value.
    pub span: Span,
    /// Help for this occurrence; the rule's help when `None`.
    pub help: Option<String>,
    /// Other places worth showing.
    pub related: Vec<Related>,
    /// For a finding of a rendered template: the nodes it occurs on and what the template
    /// rendered there (`None` for a plain config).
    pub nodes: Option<Box<Nodes>>,
}

/// Where a finding of a rendered template occurs: which nodes, out of how many rendered,
/// and (when it points at a `{{ expression }}`) the value the expression rendered.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Nodes {
    /// The names of the nodes with this finding, in inventory order (empty when the one
    /// node rendered has no name).
    pub names: Vec<String>,
    /// How many nodes were rendered.
    pub total: usize,
    /// What the expression at the finding's span rendered (on the first node listed).
    pub rendered: Option<String>,
}

/// Node names shown in one line of text before the list is cut short.
pub const NODES_SHOWN: usize = 8;

impl Nodes {
    /// `on node web-01`, `on 37 of 40 nodes: web-01, web-02, …`, or `None` when there is
    /// nothing to say (one anonymous node).
    #[must_use]
    pub fn describe(&self) -> Option<String> {
        let shown: Vec<&str> = self
            .names
            .iter()
            .take(NODES_SHOWN)
            .map(String::as_str)
            .collect();
        let more = self.names.len().saturating_sub(NODES_SHOWN);
        let list = if more > 0 {
            format!("{}, … ({more} more)", shown.join(", "))
        } else {
            shown.join(", ")
        };
        match (self.names.len(), self.total) {
            (0, _) => None,
            (1, 0 | 1) => Some(format!("on node {list}")),
            (n, total) => Some(format!("on {n} of {total} nodes: {list}")),
        }
    }

    /// `rendered "offf"` (cut at 60 characters), when the finding points at an expression.
    #[must_use]
    pub fn describe_value(&self) -> Option<String> {
        let value = self.rendered.as_ref()?;
        let shown: String = value.chars().take(60).collect();
        let more = if value.chars().count() > 60 {
            "…"
        } else {
            ""
        };
        Some(format!("rendered {:?}", format!("{shown}{more}")))
    }
}

impl Finding {
    /// Replace the rule's help with one specific to this occurrence.
    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Add a secondary location.
    #[must_use]
    pub fn with_related(mut self, span: Span, label: impl Into<String>) -> Self {
        self.related.push(Related {
            span,
            label: label.into(),
        });
        self
    }

    /// Override the severity.
    #[must_use]
    pub fn with_severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }

    /// The help to show: this finding's, else the rule's.
    #[must_use]
    pub fn help_text(&self) -> &str {
        self.help.as_deref().unwrap_or(self.rule.help)
    }

    /// The stable code.
    #[must_use]
    pub fn code(&self) -> &'static str {
        self.rule.code
    }

    /// The message with the template context appended, as every text format shows it:
    /// `unknown reboot strategy "offf" (rendered "offf"; on 3 of 40 nodes: a, b, c)`.
    #[must_use]
    pub fn full_message(&self) -> String {
        let Some(nodes) = &self.nodes else {
            return self.message.clone();
        };
        let parts: Vec<String> = [nodes.describe_value(), nodes.describe()]
            .into_iter()
            .flatten()
            .collect();
        if parts.is_empty() {
            self.message.clone()
        } else {
            format!("{} ({})", self.message, parts.join("; "))
        }
    }
}

/// Sort findings by position, then severity (errors first), then code, so output is
/// stable whatever order the rules ran in.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| {
        a.span
            .start
            .cmp(&b.span.start)
            .then(b.severity.cmp(&a.severity))
            .then(a.rule.code.cmp(b.rule.code))
            .then(a.message.cmp(&b.message))
    });
}
