//! From a position in a rendered config back to the template text that produced it.
//!
//! The map is minijinja's own record of the render ([`minijinja::Template::render_with_spans`]):
//! for every piece of output, which template wrote it and whether it was literal text
//! (`Raw`: the output is a byte-for-byte copy of that source range, whitespace control
//! already applied) or the value of an expression (`{{ … }}`, and the captured output of a
//! macro call, `{% filter %}` or `{% call %}` block, attributed to the expression that wrote
//! it). The engine records this while it writes, so the map is exact by construction: no
//! markers in the text, no re-parsing, no guessing from line contents. Literal text in a
//! loop body maps to the body each time round; an included file's text maps into that file.

use std::ops::Range;

use crate::diagnostic::Span;

/// One piece of output and where it came from.
#[derive(Debug, Clone)]
struct Piece {
    out: Range<usize>,
    file: usize,
    /// The source range in the file's text (the expression without its delimiters for an
    /// expression; exactly the text written for literal text).
    src: Range<usize>,
    literal: bool,
}

/// Where a span of the rendered config points in the template's files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mapped {
    /// Index of the file (0: the template, then included files).
    pub file: usize,
    /// The span in that file.
    pub span: Span,
    /// For an expression: the text it rendered.
    pub rendered: Option<String>,
}

/// The map of one render.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    pieces: Vec<Piece>,
}

impl SourceMap {
    /// Build from minijinja's output spans; `file_of` resolves a template name to a file
    /// index and the offset of the rendered text in that file (the header line of the main
    /// template is not rendered).
    pub fn new(
        spans: &[minijinja::OutputSpan],
        mut file_of: impl FnMut(&str) -> Option<(usize, usize)>,
    ) -> SourceMap {
        let mut pieces = Vec::with_capacity(spans.len());
        for s in spans {
            let Some((file, offset)) = file_of(s.name()) else {
                continue;
            };
            let src = s.source_range();
            pieces.push(Piece {
                out: s.output_range(),
                file,
                src: src.start + offset..src.end + offset,
                literal: s.kind() == minijinja::OutputSpanKind::Raw,
            });
        }
        SourceMap { pieces }
    }

    /// Map `span` of `output` (the rendered text); `text_of(file)` gives a file's text, to
    /// widen an expression to its `{{ … }}` delimiters.
    pub fn map<'t>(
        &self,
        span: Span,
        output: &str,
        text_of: impl Fn(usize) -> Option<&'t str>,
    ) -> Option<Mapped> {
        let at = span.start.min(output.len());
        // The piece that wrote byte `at` (or, at the very end, the last piece).
        let i = self.pieces.partition_point(|p| p.out.end <= at);
        let piece = self
            .pieces
            .get(i)
            .filter(|p| p.out.start <= at)
            .or_else(|| self.pieces.last().filter(|p| p.out.end <= at))?;
        if piece.literal {
            let start = (piece.src.start + (at - piece.out.start)).min(piece.src.end);
            let end = (start + span.len()).min(piece.src.end).max(start);
            return Some(Mapped {
                file: piece.file,
                span: Span::new(start, end),
                rendered: None,
            });
        }
        let rendered = output
            .get(piece.out.clone())
            .map(|v| v.trim_end_matches(['\n', '\r']).to_string());
        let span = match text_of(piece.file) {
            Some(text) => widen(text, piece.src.clone()),
            None => Span::new(piece.src.start, piece.src.end),
        };
        Some(Mapped {
            file: piece.file,
            span,
            rendered,
        })
    }
}

/// Widen an expression's range to its `{{ … }}` tag when it stands alone in one (not for a
/// `{% filter %}` or `{% call %}` expression, which stays as it is).
fn widen(text: &str, src: Range<usize>) -> Span {
    let plain = Span::new(src.start, src.end);
    let Some(before) = text.get(..src.start) else {
        return plain;
    };
    let Some(after) = text.get(src.end..) else {
        return plain;
    };
    let b = before.trim_end();
    let b = b.strip_suffix(['-', '+']).unwrap_or(b);
    let a = after.trim_start();
    let a = a.strip_prefix(['-', '+']).unwrap_or(a);
    if let (Some(open), true) = (b.strip_suffix("{{"), a.starts_with("}}")) {
        let start = open.len();
        let end = text.len() - a.len() + 2;
        return Span::new(start, end);
    }
    plain
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_widen_to_their_tag() {
        let t = "a: {{- x | upper }} b {% filter upper %}c{% endfilter %}";
        let x = t.find('x').unwrap();
        let s = widen(t, x..x + 9);
        assert_eq!(&t[s.start..s.end], "{{- x | upper }}");
        let u = t.rfind("upper").unwrap();
        let s = widen(t, u..u + 5);
        assert_eq!(&t[s.start..s.end], "upper");
    }
}
