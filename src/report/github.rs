//! GitHub Actions workflow commands: one `::error`/`::warning`/`::notice` line per
//! finding, with file, line, column and end position, so findings appear as annotations
//! on the pull request.

use crate::diagnostic::Severity;
use crate::validate::Validation;

/// Escape a message (`%`, CR, LF) as the workflow command syntax requires.
fn data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escape a property value (also `:` and `,`).
fn property(text: &str) -> String {
    data(text).replace(':', "%3A").replace(',', "%2C")
}

/// Render every finding as a workflow command line.
#[must_use]
pub fn render(results: &[Validation]) -> String {
    let mut out = String::new();
    for v in results {
        for f in &v.findings {
            let start = v.source.position(f.span.start);
            let end = v.source.position(f.span.end);
            let command = match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
                Severity::Info => "notice",
            };
            out.push_str(&format!(
                "::{command} file={},line={},col={},endLine={},endColumn={},title={}::{}\n",
                property(&v.source.name),
                start.line,
                start.column,
                end.line,
                end.column,
                property(f.rule.code),
                data(&format!("{} — {}", f.full_message(), f.help_text())),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn escaping() {
        assert_eq!(super::data("a%b\nc"), "a%25b%0Ac");
        assert_eq!(super::property("a:b,c"), "a%3Ab%2Cc");
    }
}
