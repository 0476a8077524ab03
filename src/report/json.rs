//! The JSON format: one array of findings over every file.

use serde::Serialize;

use crate::diagnostic::Finding;
use crate::source::SourceFile;
use crate::validate::Validation;

/// One finding as JSON.
#[derive(Debug, Serialize)]
pub struct JsonFinding<'a> {
    /// The file as named on the command line.
    pub file: &'a str,
    /// 1-based line of the start.
    pub line: usize,
    /// 1-based column (characters) of the start.
    pub column: usize,
    /// 1-based line of the end.
    pub end_line: usize,
    /// 1-based column of the end (exclusive).
    pub end_column: usize,
    /// `error`, `warning` or `info`.
    pub severity: &'static str,
    /// The stable code.
    pub code: &'static str,
    /// What is wrong.
    pub message: &'a str,
    /// What to do.
    pub help: &'a str,
    /// For a rendered template: the nodes with this finding (all of them, in inventory order).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes: Option<&'a [String]>,
    /// For a rendered template: how many nodes were rendered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_total: Option<usize>,
    /// For a finding at a template expression: what it rendered (on the first node listed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rendered: Option<&'a str>,
}

impl<'a> JsonFinding<'a> {
    /// Resolve a finding's span against its source.
    #[must_use]
    pub fn new(source: &'a SourceFile, finding: &'a Finding) -> Self {
        let start = source.position(finding.span.start);
        let end = source.position(finding.span.end);
        JsonFinding {
            file: &source.name,
            line: start.line,
            column: start.column,
            end_line: end.line,
            end_column: end.column,
            severity: finding.severity.as_str(),
            code: finding.rule.code,
            message: &finding.message,
            help: finding.help_text(),
            nodes: finding
                .nodes
                .as_ref()
                .filter(|n| !n.names.is_empty())
                .map(|n| n.names.as_slice()),
            nodes_total: finding.nodes.as_ref().map(|n| n.total),
            rendered: finding.nodes.as_ref().and_then(|n| n.rendered.as_deref()),
        }
    }
}

/// Render every finding of every validation as one JSON array.
#[must_use]
pub fn render(results: &[Validation]) -> String {
    let all: Vec<JsonFinding<'_>> = results
        .iter()
        .flat_map(|r| r.findings.iter().map(|f| JsonFinding::new(&r.source, f)))
        .collect();
    let mut text = serde_json::to_string_pretty(&all).unwrap_or_else(|_| "[]".into());
    text.push('\n');
    text
}
