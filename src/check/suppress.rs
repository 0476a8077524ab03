//! Inline suppressions: `# kindling-ignore: CODE[, CODE...]` silences findings with those
//! codes on the comment's line, or (when the comment stands alone on its line) on the next
//! line that is not blank. Comments that silence nothing become findings themselves.

use crate::diagnostic::{Finding, Span};
use crate::rules;
use crate::source::SourceFile;

const MARKER: &str = "kindling-ignore:";

struct Suppression {
    /// The 1-based line it applies to.
    line: usize,
    /// Where the comment is.
    span: Span,
    /// The codes, normalised to the full `kindling::...` form.
    codes: Vec<String>,
    used: Vec<bool>,
}

fn full_code(code: &str) -> String {
    let code = code.trim();
    if code.starts_with(crate::diagnostic::CODE_PREFIX) {
        code.to_string()
    } else {
        format!(
            "{}{}",
            crate::diagnostic::CODE_PREFIX,
            code.replace('/', "::")
        )
    }
}

fn scan(source: &SourceFile) -> Vec<Suppression> {
    let text = &source.text;
    if !text.contains(MARKER) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let lines = source.index.line_count();
    for line in 1..=lines {
        let content = source.index.line_text(text, line);
        let Some(at) = content.find(MARKER) else {
            continue;
        };
        let before = &content[..at];
        let Some(hash) = before.rfind('#') else {
            continue;
        };
        if !before[hash + 1..].trim().is_empty() {
            continue;
        }
        let codes: Vec<String> = content[at + MARKER.len()..]
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(full_code)
            .collect();
        let alone = before[..hash].trim().is_empty();
        let target = if alone {
            (line + 1..=lines)
                .find(|l| !source.index.line_text(text, *l).trim().is_empty())
                .unwrap_or(line)
        } else {
            line
        };
        let start = source.index.line_start(line) + hash;
        out.push(Suppression {
            line: target,
            span: Span::new(start, source.index.line_start(line) + content.len()),
            used: vec![false; codes.len()],
            codes,
        });
    }
    out
}

/// Drop the suppressed findings and report unused suppressions.
pub fn apply(source: &SourceFile, findings: &mut Vec<Finding>) {
    let mut suppressions = scan(source);
    if suppressions.is_empty() {
        return;
    }
    findings.retain(|f| {
        let line = source.position(f.span.start).line;
        let mut keep = true;
        for s in suppressions.iter_mut().filter(|s| s.line == line) {
            for (i, code) in s.codes.iter().enumerate() {
                if code == f.rule.code {
                    s.used[i] = true;
                    keep = false;
                }
            }
        }
        keep
    });
    for s in suppressions {
        for (code, used) in s.codes.iter().zip(&s.used) {
            if !used {
                let known = rules::find(code).is_some();
                let message = if known {
                    format!(
                        "nothing on line {} is {code}; this suppression is unused",
                        s.line
                    )
                } else {
                    format!("{code} is not a kindling code; this suppression is unused")
                };
                findings.push(rules::lint_unused_suppression::RULE.at(s.span, message));
            }
        }
    }
}
