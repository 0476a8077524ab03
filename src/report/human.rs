//! The human format: miette's graphical reports, colour only on a terminal.

use std::fmt;

use miette::{
    Diagnostic, GraphicalReportHandler, GraphicalTheme, LabeledSpan, MietteError, SourceCode,
    SourceSpan, SpanContents,
};

use crate::diagnostic::{Finding, Severity};
use crate::source::SourceFile;
use crate::validate::Validation;

/// A source text with its file name, borrowed.
struct NamedText<'a> {
    name: &'a str,
    text: &'a str,
}

impl SourceCode for NamedText<'_> {
    fn read_span<'b>(
        &'b self,
        span: &SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn SpanContents<'b> + 'b>, MietteError> {
        let contents = self
            .text
            .read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.name.to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// One finding as a miette diagnostic.
struct Report<'a> {
    finding: &'a Finding,
    source: NamedText<'a>,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Report")
            .field("finding", self.finding)
            .finish()
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.finding.full_message())
    }
}

impl std::error::Error for Report<'_> {}

fn source_span(span: crate::diagnostic::Span) -> SourceSpan {
    SourceSpan::new(span.start.into(), span.len())
}

impl Diagnostic for Report<'_> {
    fn code<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.finding.rule.code))
    }

    fn severity(&self) -> Option<miette::Severity> {
        Some(match self.finding.severity {
            Severity::Error => miette::Severity::Error,
            Severity::Warning => miette::Severity::Warning,
            Severity::Info => miette::Severity::Advice,
        })
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        Some(Box::new(self.finding.help_text()))
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(&self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        // A finding at a template expression says what the expression rendered.
        let label = self.finding.nodes.as_ref().and_then(|n| n.describe_value());
        let primary = LabeledSpan::new_primary_with_span(label, source_span(self.finding.span));
        let related = self
            .finding
            .related
            .iter()
            .map(|r| LabeledSpan::new_with_span(Some(r.label.clone()), source_span(r.span)));
        Some(Box::new(std::iter::once(primary).chain(related)))
    }
}

/// Options for the human format.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use colour.
    pub color: bool,
    /// Wrap at this width.
    pub width: usize,
}

/// Render one finding.
#[must_use]
pub fn render_finding(source: &SourceFile, finding: &Finding, style: Style) -> String {
    let theme = if style.color {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_width(style.width)
        .with_links(false);
    let report = Report {
        finding,
        source: NamedText {
            name: &source.name,
            text: &source.text,
        },
    };
    let mut out = String::new();
    if handler.render_report(&mut out, &report).is_err() {
        // Rendering into a String cannot fail except through a bug in the handler; fall
        // back to the plain one-line form rather than lose the finding.
        let pos = source.position(finding.span.start);
        out = format!(
            "{}:{}:{}: {}: {} [{}]\n",
            source.name,
            pos.line,
            pos.column,
            finding.severity,
            finding.full_message(),
            finding.rule.code
        );
    }
    out
}

/// Render every finding of every validation, then a summary line (each validation counted
/// as a file).
#[must_use]
pub fn render(results: &[Validation], style: Style) -> String {
    render_with(results, style, super::Summary::of(results))
}

/// Render every finding of every validation, then `summary`'s line.
#[must_use]
pub fn render_with(results: &[Validation], style: Style, summary: super::Summary) -> String {
    let mut out = String::new();
    for result in results {
        for finding in &result.findings {
            out.push_str(&render_finding(&result.source, finding, style));
            out.push('\n');
        }
    }
    out.push_str(&summary.line());
    out.push('\n');
    out
}
