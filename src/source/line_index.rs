//! Line index: turns byte offsets into 1-based line and column numbers and back.
//!
//! Line breaks are `\n`, `\r\n` and a lone `\r`, exactly the breaks the YAML scanner
//! counts, so a position the parser reports as (line, column) maps to the same byte
//! here. Columns count Unicode scalar values, 1-based.

/// Start offsets of every line of a text.
#[derive(Debug, Clone)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

/// A resolved position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl LineIndex {
    /// Index `text`.
    #[must_use]
    pub fn new(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut starts = Vec::with_capacity(bytes.len() / 24 + 1);
        starts.push(0);
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' => starts.push(i + 1),
                b'\r' => {
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                    starts.push(i + 1);
                }
                _ => {}
            }
            i += 1;
        }
        LineIndex {
            starts,
            len: bytes.len(),
        }
    }

    /// Number of lines (a text ending in a break has an empty last line).
    #[must_use]
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// Byte offset where 1-based `line` starts (clamped to the text).
    #[must_use]
    pub fn line_start(&self, line: usize) -> usize {
        let idx = line.saturating_sub(1).min(self.starts.len() - 1);
        self.starts[idx]
    }

    /// Byte offset where 1-based `line`'s content ends (before its break).
    #[must_use]
    pub fn line_end(&self, text: &str, line: usize) -> usize {
        let idx = line.saturating_sub(1);
        let mut end = self.starts.get(idx + 1).copied().unwrap_or(self.len);
        let bytes = text.as_bytes();
        if end > self.line_start(line) && bytes.get(end - 1) == Some(&b'\n') {
            end -= 1;
        }
        if end > self.line_start(line) && bytes.get(end - 1) == Some(&b'\r') {
            end -= 1;
        }
        end
    }

    /// The text of 1-based `line`, without its break.
    #[must_use]
    pub fn line_text<'t>(&self, text: &'t str, line: usize) -> &'t str {
        let start = self.line_start(line);
        let end = self.line_end(text, line).max(start);
        text.get(start..end).unwrap_or("")
    }

    /// 1-based line and column of byte `offset` (clamped to the text).
    #[must_use]
    pub fn position(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(self.len);
        let line_idx = match self.starts.binary_search(&offset) {
            Ok(i) => i,
            Err(i) => i - 1,
        };
        let start = self.starts[line_idx];
        let column = text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count())
            + 1;
        Position {
            line: line_idx + 1,
            column,
        }
    }

    /// Byte offset of 1-based `line` and 0-based character column `col`, clamped to
    /// the end of that line.
    #[must_use]
    pub fn offset(&self, text: &str, line: usize, col: usize) -> usize {
        let start = self.line_start(line);
        let end = self.line_end(text, line).max(start);
        let line_text = text.get(start..end).unwrap_or("");
        if line_text.is_ascii() {
            return start + col.min(line_text.len());
        }
        line_text
            .char_indices()
            .nth(col)
            .map_or(end, |(i, _)| start + i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_across_break_styles() {
        let text = "ab\ncd\r\nef\rgh";
        let idx = LineIndex::new(text);
        assert_eq!(idx.line_count(), 4);
        assert_eq!(idx.position(text, 0), Position { line: 1, column: 1 });
        assert_eq!(idx.position(text, 4), Position { line: 2, column: 2 });
        assert_eq!(idx.position(text, 7), Position { line: 3, column: 1 });
        assert_eq!(idx.position(text, 11), Position { line: 4, column: 2 });
        assert_eq!(idx.line_text(text, 2), "cd");
        assert_eq!(idx.line_text(text, 3), "ef");
        assert_eq!(idx.offset(text, 2, 1), 4);
    }

    #[test]
    fn columns_count_characters() {
        let text = "é: ü\n";
        let idx = LineIndex::new(text);
        let u = text.find('ü').unwrap();
        assert_eq!(idx.position(text, u), Position { line: 1, column: 4 });
        assert_eq!(idx.offset(text, 1, 3), u);
        assert_eq!(idx.offset(text, 1, 99), idx.line_end(text, 1));
    }
}
