//! libyaml's tab rules, applied to the gaps between YAML events.
//!
//! Nodes parse cloud-configs with go-yaml v1 (libyaml). In block context libyaml eats
//! only spaces where a new token may start: at the beginning of a line and after the
//! `-`, `?` and `:` indicators. A tab there is "found character that cannot start any
//! token", even on an otherwise blank line, and a tab in the indentation of a block
//! scalar's body is refused too. YAML 1.2 parsers accept several of these, so this
//! scanner walks the text between events (whitespace, comments, indicators) and reports
//! the first tab libyaml would refuse. Inside flow collections tabs are fine.

use saphyr_parser::Event;

use super::line_index::LineIndex;
use crate::diagnostic::Span;

/// Tracks where the previous event ended and whether a token may start next.
pub struct TabScanner<'t> {
    text: &'t str,
    has_tabs: bool,
    prev_end: usize,
    token_may_start: bool,
    flow_depth: usize,
    pending: Pending,
}

#[derive(Clone, Copy)]
enum Pending {
    None,
    InlineScalar,
    BlockScalar,
    Open,
    Close,
}

impl<'t> TabScanner<'t> {
    /// A scanner over `text`. When the text has no tab at all every call is free.
    #[must_use]
    pub fn new(text: &'t str) -> Self {
        TabScanner {
            text,
            has_tabs: text.contains('\t'),
            prev_end: 0,
            token_may_start: true,
            flow_depth: 0,
            pending: Pending::None,
        }
    }

    /// Scan the gap before an event starting at `start`; returns the offset of a tab
    /// libyaml refuses. Remembers the event so [`TabScanner::after`] can update state.
    pub fn before(&mut self, start: usize, event: &Event<'_>) -> Option<usize> {
        if !self.has_tabs {
            return None;
        }
        self.pending = match event {
            Event::Scalar(_, style, _, _) => {
                if matches!(
                    style,
                    saphyr_parser::ScalarStyle::Literal | saphyr_parser::ScalarStyle::Folded
                ) {
                    Pending::BlockScalar
                } else {
                    Pending::InlineScalar
                }
            }
            Event::Alias(_) => Pending::InlineScalar,
            Event::SequenceStart(..) | Event::MappingStart(..) => Pending::Open,
            Event::SequenceEnd | Event::MappingEnd => Pending::Close,
            _ => Pending::None,
        };
        if start <= self.prev_end || self.flow_depth > 0 {
            return None;
        }
        let gap = self.text.get(self.prev_end..start)?;
        let bytes = gap.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'\n' | b'\r' => self.token_may_start = true,
                b' ' => {}
                b'\t' => {
                    if self.token_may_start {
                        return Some(self.prev_end + i);
                    }
                }
                b'#' => {
                    while i + 1 < bytes.len() && bytes[i + 1] != b'\n' && bytes[i + 1] != b'\r' {
                        i += 1;
                    }
                }
                b'-' | b'?' | b':'
                    if matches!(bytes.get(i + 1), None | Some(b' ' | b'\t' | b'\n' | b'\r')) =>
                {
                    self.token_may_start = true;
                }
                _ => self.token_may_start = false,
            }
            i += 1;
        }
        None
    }

    /// Update state after the event remembered by [`TabScanner::before`], which ended at
    /// `end`. `ok` is false when the build stopped (nothing more will be scanned).
    pub fn after(&mut self, end: usize, ok: bool) {
        if !self.has_tabs || !ok {
            return;
        }
        let last = end
            .checked_sub(1)
            .and_then(|i| self.text.as_bytes().get(i))
            .copied();
        match self.pending {
            Pending::InlineScalar => self.token_may_start = false,
            Pending::BlockScalar => self.token_may_start = true,
            Pending::Open => {
                if matches!(last, Some(b'[' | b'{')) {
                    self.flow_depth += 1;
                }
            }
            Pending::Close => {
                if self.flow_depth > 0 && matches!(last, Some(b']' | b'}')) {
                    self.flow_depth -= 1;
                    self.token_may_start = false;
                }
            }
            Pending::None => {}
        }
        if end > self.prev_end {
            self.prev_end = end;
        }
        self.pending = Pending::None;
    }

    /// For a block scalar whose body is `span`: the offset of a tab inside the
    /// indentation of a body line, which libyaml refuses.
    #[must_use]
    pub fn block_scalar_indentation(&self, index: &LineIndex, span: Span) -> Option<usize> {
        if !self.has_tabs || self.flow_depth > 0 {
            return None;
        }
        let start_pos = index.position(self.text, span.start);
        let indent = start_pos.column - 1;
        let end_pos = index.position(self.text, span.end);
        for line in start_pos.line..=end_pos.line {
            let content = index.line_text(self.text, line);
            let spaces = content.bytes().take_while(|b| *b == b' ').count();
            if spaces < indent && content.as_bytes().get(spaces) == Some(&b'\t') {
                return Some(index.line_start(line) + spaces);
            }
        }
        None
    }
}
