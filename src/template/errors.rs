//! minijinja's errors as findings: the right rule, the innermost position (inside an
//! included file when the error is there), and help that names what to do.

use minijinja::{Error, ErrorKind};

use super::files::{Files, Located};
use crate::diagnostic::{Rule, Span};
use crate::rules;
use crate::suggest::levenshtein;

/// The finding for a render or parse error of the template whose files are `files` (its
/// rendered text starting at `body_start`); `known` are the variable names
/// the node has (for a "did you mean" on undefined variables).
pub(super) fn finding(files: &Files, body_start: usize, err: &Error, known: &[&str]) -> Located {
    // An error inside an include is wrapped once per level: report the innermost one
    // that knows its position, at the include chain's first tag as related.
    let mut chain = vec![err];
    let mut current: &dyn std::error::Error = err;
    while let Some(inner) = current.source() {
        if let Some(e) = inner.downcast_ref::<Error>() {
            chain.push(e);
        }
        current = inner;
    }
    let innermost = chain
        .iter()
        .rev()
        .find(|e| e.name().is_some())
        .copied()
        .unwrap_or(err);
    let (file, span) = position(files, body_start, innermost);
    let (rule, message, help) = describe(innermost, known);
    let mut finding = rule.at(span, message);
    if let Some(help) = help {
        finding = finding.with_help(help);
    }
    // Where the outermost include is, when the error is in an included file.
    if file != 0
        && let Some(outer) = chain.first()
        && let (0, outer_span) = position(files, body_start, outer)
    {
        return Located {
            file,
            finding,
            included_at: Some(outer_span),
        };
    }
    Located {
        file,
        finding,
        included_at: None,
    }
}

fn position(files: &Files, body_start: usize, err: &Error) -> (usize, Span) {
    let (file, offset) = err
        .name()
        .and_then(|n| files.file_of(n))
        .unwrap_or((0, body_start));
    let Some(source) = files.file(file) else {
        return (0, Span::point(body_start));
    };
    if let Some(range) = err.range() {
        let start = (range.start + offset).min(source.text.len());
        let end = (range.end + offset).min(source.text.len()).max(start);
        return (file, Span::new(start, end));
    }
    // Only a line (minijinja counts from the first rendered line).
    let first_line = source.position(offset).line;
    match err.line() {
        Some(line) => {
            let line = line + first_line - 1;
            let start = source.index.line_start(line);
            (
                file,
                Span::new(start, source.index.line_end(&source.text, line)),
            )
        }
        None => (file, Span::point(offset)),
    }
}

fn describe(err: &Error, known: &[&str]) -> (&'static Rule, String, Option<String>) {
    let detail = err.detail().unwrap_or("").to_string();
    match err.kind() {
        ErrorKind::SyntaxError | ErrorKind::BadEscape | ErrorKind::InvalidDelimiter => (
            &rules::template_syntax::RULE,
            format!("the template is not valid Jinja: {detail}"),
            None,
        ),
        ErrorKind::UndefinedError => {
            let (message, help) = undefined(&detail, known);
            (&rules::template_undefined::RULE, message, help)
        }
        ErrorKind::OutOfFuel => (
            &rules::template_limits::RULE,
            format!(
                "the render ran out of fuel ({} steps): a loop or recursion that does not end, or a value too large",
                super::engine::FUEL
            ),
            None,
        ),
        ErrorKind::InvalidOperation if detail.contains("recursion limit") => (
            &rules::template_limits::RULE,
            format!(
                "macros, includes or loops nest deeper than {} levels (endless recursion?)",
                super::engine::RECURSION_LIMIT
            ),
            None,
        ),
        ErrorKind::WriteFailure => (&rules::template_limits::RULE, detail, None),
        kind => {
            let message = if detail.is_empty() {
                kind.to_string()
            } else {
                format!("{kind}: {detail}")
            };
            (&rules::template_render::RULE, message, None)
        }
    }
}

/// The message and help for `` `x.y` is undefined ``: which name, and the closest defined
/// name when the root looks like a typo.
fn undefined(detail: &str, known: &[&str]) -> (String, Option<String>) {
    let expr = detail.split('`').nth(1).unwrap_or("");
    if expr.is_empty() {
        return (format!("undefined value: {detail}"), None);
    }
    let root: String = expr
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    let message = format!("`{expr}` is undefined");
    if root != expr && known.contains(&root.as_str()) {
        return (
            message,
            Some(format!(
                "`{root}` is defined but has no `{}`; check the variables file, or use `{expr} | default(…)`",
                &expr[root.len()..].trim_start_matches('.')
            )),
        );
    }
    let suggestion = known
        .iter()
        .map(|k| (levenshtein(&root, k), *k))
        .filter(|(d, k)| *d <= 2.max(k.len() / 4) && *d > 0)
        .min();
    let help = match suggestion {
        Some((_, name)) => format!(
            "did you mean `{name}`? Otherwise define `{root}` in --vars or the inventory, pass --var {root}=VALUE, or write `{root} | default(…)`"
        ),
        None => format!(
            "define `{root}` in --vars or the inventory, pass --var {root}=VALUE, or write `{root} | default(…)`"
        ),
    };
    (message, Some(help))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_suggestions() {
        assert_eq!(levenshtein("hostnmae", "hostname"), 2);
        let (m, h) = undefined("`hostnmae` is undefined", &["hostname", "role"]);
        assert_eq!(m, "`hostnmae` is undefined");
        assert!(h.unwrap().starts_with("did you mean `hostname`?"));
        let (_, h) = undefined("`etcd.peers` is undefined", &["etcd"]);
        assert!(h.unwrap().contains("has no `peers`"));
        let (_, h) = undefined("`zzz` is undefined", &["hostname"]);
        assert!(h.unwrap().starts_with("define `zzz`"));
    }
}
