//! YAML text to a spanned [`Node`] tree. The only module that knows the YAML library.
//!
//! The events come from `saphyr-parser` (a YAML 1.2 parser that reports a span for every
//! event). The cloud-config dialect is read on nodes by go-yaml v1, a YAML 1.1 parser
//! built on libyaml, so where the two disagree on what is *valid* this module sides with
//! the node: tabs where libyaml refuses them (see `tabs`), non-scalar keys, and merge keys
//! (`<<`), which YAML 1.1 has and 1.2 does not. What 1.1 *means* by a plain scalar is
//! decided later, per field, in `source::scalar`.
//!
//! Limits keep hostile input cheap: nesting deeper than [`MAX_DEPTH`] and alias
//! expansion beyond [`MAX_ALIAS_NODES`] nodes stop the build with a finding.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span as YSpan};

use super::line_index::LineIndex;
use super::node::{Entry, Node, Value};
use super::scalar::{Scalar, Style, Tag};
use super::tabs::TabScanner;
use crate::diagnostic::{Finding, Span};
use crate::rules;

/// Deepest nesting accepted. A cloud-config needs about six levels.
pub const MAX_DEPTH: usize = 128;

/// Most nodes that alias expansion may add to a document.
pub const MAX_ALIAS_NODES: usize = 100_000;

/// The result of reading one YAML text.
#[derive(Debug, Default)]
pub struct Parsed {
    /// The first document's root, or `None` when there is no document or the text is
    /// not valid YAML (then `findings` says why).
    pub root: Option<Node>,
    /// Syntax errors, limits hit, documents ignored.
    pub findings: Vec<Finding>,
}

enum Frame {
    Seq {
        span: Span,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        anchor: usize,
        entries: Vec<Entry>,
        key: Option<Node>,
    },
}

struct Builder<'t> {
    text: &'t str,
    index: &'t LineIndex,
    ascii: bool,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    alias_nodes: usize,
    root: Option<Node>,
    findings: Vec<Finding>,
    tabs: TabScanner<'t>,
}

/// Parse `text` (already classified as a cloud-config) into a tree.
#[must_use]
pub fn parse(text: &str, index: &LineIndex) -> Parsed {
    let mut b = Builder {
        text,
        index,
        ascii: text.is_ascii(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        alias_nodes: 0,
        root: None,
        findings: Vec::new(),
        tabs: TabScanner::new(text),
    };
    let mut documents = 0usize;
    for item in Parser::new_from_str(text) {
        let (event, yspan) = match item {
            Ok(pair) => pair,
            Err(err) => {
                let marker = err.marker();
                let at = b.offset(marker.line(), marker.col());
                b.syntax_error(at, err.info());
                return b.finish_failed();
            }
        };
        // The stream ends at the end of the text, whatever line the scanner counted.
        let span = if matches!(event, Event::StreamEnd) {
            Span::point(text.len())
        } else {
            b.span(yspan)
        };
        if let Some(tab_at) = b.tabs.before(span.start, &event) {
            b.syntax_error(
                tab_at,
                "found a tab character where YAML 1.1 allows only spaces",
            );
            return b.finish_failed();
        }
        let ok = match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => true,
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    b.findings.push(rules::yaml_multiple_documents::RULE.at(
                        span,
                        "a second YAML document starts here; only the first one is used",
                    ));
                    break;
                }
                true
            }
            Event::Scalar(value, style, anchor, tag) => {
                let scalar = Scalar {
                    text: value.into_owned(),
                    style: convert_style(style),
                    tag: tag.map(|t| convert_tag(&t.handle, &t.suffix)),
                };
                if (scalar.style == Style::Literal || scalar.style == Style::Folded)
                    && let Some(at) = b.tabs.block_scalar_indentation(b.index, span)
                {
                    b.syntax_error(
                        at,
                        "found a tab character where an indentation space is expected",
                    );
                    return b.finish_failed();
                }
                let node = Node {
                    span,
                    value: Value::Scalar(scalar),
                };
                if anchor != 0 {
                    b.anchors.insert(anchor, node.clone());
                }
                b.push(node)
            }
            Event::SequenceStart(anchor, _) => b.open(Frame::Seq {
                span,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _) => b.open(Frame::Map {
                span,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => b.close(span),
            Event::Alias(id) => b.alias(id, span),
        };
        b.tabs.after(span.end, ok);
        if !ok {
            return b.finish_failed();
        }
    }
    Parsed {
        root: b.root,
        findings: b.findings,
    }
}

fn convert_style(style: ScalarStyle) -> Style {
    match style {
        ScalarStyle::Plain => Style::Plain,
        ScalarStyle::SingleQuoted => Style::SingleQuoted,
        ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
        ScalarStyle::Literal => Style::Literal,
        ScalarStyle::Folded => Style::Folded,
    }
}

fn convert_tag(handle: &str, suffix: &str) -> Tag {
    let core = handle == "!!" || handle == "tag:yaml.org,2002:";
    match (core, suffix) {
        (true, "binary") => Tag::Binary,
        (true, "str") => Tag::Str,
        (true, other) => Tag::Core(other.to_string()),
        (false, _) => Tag::Other(format!("{handle}{suffix}")),
    }
}

impl Builder<'_> {
    fn offset(&self, line: usize, col: usize) -> usize {
        // The scanner counts a line past the last one at the end of input.
        if line > self.index.line_count() {
            return self.text.len();
        }
        if self.ascii {
            // Characters are bytes; still go through the line so a marker past the end
            // of a line is clamped the same way.
            let start = self.index.line_start(line);
            (start + col).min(self.text.len())
        } else {
            self.index.offset(self.text, line, col)
        }
    }

    fn span(&self, s: YSpan) -> Span {
        let start = self.offset(s.start.line(), s.start.col());
        let end = self.offset(s.end.line(), s.end.col()).max(start);
        Span::new(start, end)
    }

    fn syntax_error(&mut self, at: usize, info: &str) {
        let (at, message) = explain_syntax_error(self.text, self.index, at, info);
        self.findings
            .push(rules::yaml_syntax::RULE.at(Span::point(at), message));
    }

    fn finish_failed(self) -> Parsed {
        Parsed {
            root: None,
            findings: self.findings,
        }
    }

    fn open(&mut self, frame: Frame) -> bool {
        if self.stack.len() >= MAX_DEPTH {
            let span = match &frame {
                Frame::Seq { span, .. } | Frame::Map { span, .. } => *span,
            };
            self.findings.push(rules::yaml_limits::RULE.at(
                span,
                format!("the document nests deeper than {MAX_DEPTH} levels"),
            ));
            return false;
        }
        self.stack.push(frame);
        true
    }

    fn close(&mut self, end: Span) -> bool {
        let Some(frame) = self.stack.pop() else {
            return true;
        };
        let (node, anchor) = match frame {
            Frame::Seq {
                span,
                anchor,
                items,
            } => (
                Node {
                    span,
                    value: Value::Sequence(items),
                },
                anchor,
            ),
            Frame::Map {
                span,
                anchor,
                entries,
                key,
            } => {
                let mut entries = entries;
                if let Some(key) = key {
                    // A key with no value at all cannot come from a well-formed event
                    // stream, but keep it as `key: null` rather than lose it.
                    let at = Span::point(end.start);
                    entries.push(Entry {
                        key,
                        value: null_node(at),
                    });
                }
                let entries = match self.apply_merges(entries) {
                    Ok(entries) => entries,
                    Err(finding) => {
                        self.findings.push(finding);
                        return false;
                    }
                };
                (
                    Node {
                        span,
                        value: Value::Mapping(entries),
                    },
                    anchor,
                )
            }
        };
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push(node)
    }

    fn alias(&mut self, id: usize, span: Span) -> bool {
        let Some(target) = self.anchors.get(&id) else {
            self.findings
                .push(rules::yaml_syntax::RULE.at(span, "this alias names no anchor"));
            return false;
        };
        let size = target.size();
        self.alias_nodes = self.alias_nodes.saturating_add(size);
        if self.alias_nodes > MAX_ALIAS_NODES {
            self.findings.push(rules::yaml_limits::RULE.at(
                span,
                format!("aliases expand to more than {MAX_ALIAS_NODES} nodes"),
            ));
            return false;
        }
        let node = target.clone();
        self.push(node)
    }

    fn push(&mut self, node: Node) -> bool {
        match self.stack.last_mut() {
            None => {
                if self.root.is_none() {
                    self.root = Some(node);
                }
            }
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    if node.as_scalar().is_none() {
                        // go-yaml refuses a collection as a mapping key ("invalid map
                        // key"); 1.2 parsers accept it. Side with the node.
                        self.findings.push(rules::yaml_syntax::RULE.at(
                            node.span,
                            "a list or mapping cannot be a mapping key (an unquoted `{{...}}` template is read as one)",
                        ).with_help("quote the key, or the template value, so it is read as a string"));
                        return false;
                    }
                    *key = Some(node);
                }
                Some(k) => entries.push(Entry {
                    key: k,
                    value: node,
                }),
            },
        }
        true
    }

    /// YAML 1.1 merge keys: `<<: *base` or `<<: [*a, *b]` add the entries of those
    /// mappings that the mapping does not set itself (earlier sources win).
    fn apply_merges(&self, entries: Vec<Entry>) -> Result<Vec<Entry>, Finding> {
        let is_merge = |e: &Entry| {
            e.key
                .as_scalar()
                .is_some_and(|s| s.text == "<<" && s.style == Style::Plain)
        };
        if !entries.iter().any(is_merge) {
            return Ok(entries);
        }
        let mut own = Vec::with_capacity(entries.len());
        let mut sources = Vec::new();
        for entry in entries {
            if is_merge(&entry) {
                match entry.value.value {
                    Value::Mapping(m) => sources.push(m),
                    Value::Sequence(items) => {
                        for item in items {
                            match item.value {
                                Value::Mapping(m) => sources.push(m),
                                _ => return Err(merge_error(item.span)),
                            }
                        }
                    }
                    Value::Scalar(_) => return Err(merge_error(entry.value.span)),
                }
            } else {
                own.push(entry);
            }
        }
        let mut seen: std::collections::HashSet<String> = own
            .iter()
            .filter_map(|e| e.key_text().map(str::to_string))
            .collect();
        for source in sources {
            for entry in source {
                if let Some(k) = entry.key_text()
                    && seen.insert(k.to_string())
                {
                    own.push(entry);
                }
            }
        }
        Ok(own)
    }
}

fn merge_error(span: Span) -> Finding {
    rules::yaml_syntax::RULE.at(
        span,
        "a merge key (`<<`) needs a mapping or a list of mappings",
    )
}

fn null_node(span: Span) -> Node {
    Node {
        span,
        value: Value::Scalar(Scalar {
            text: String::new(),
            style: Style::Plain,
            tag: None,
        }),
    }
}

/// Make the parser's message say what a person needs and point where they must look.
///
/// "simple key expected" is reported by the scanner at the end of the input when a
/// line holds a word with no `: ` after it; the line to fix is the last non-blank one
/// before that point, which is also where go-yaml reports "could not find expected ':'".
fn explain_syntax_error(text: &str, index: &LineIndex, at: usize, info: &str) -> (usize, String) {
    if info.starts_with("simple key expect") {
        let pos = index.position(text, at);
        // Reported at the start of the next line (or the end of input): the key that
        // lacks its ':' is on a line above.
        let mut line = if pos.column == 1 && pos.line > 1 {
            pos.line - 1
        } else {
            pos.line
        };
        loop {
            let content = index.line_text(text, line);
            let trimmed = content.trim_start();
            if (!trimmed.is_empty() && !trimmed.starts_with('#')) || line <= 1 {
                let start = index.line_start(line) + (content.len() - trimmed.len());
                return (
                    start,
                    "could not find the expected ':' after this key".to_string(),
                );
            }
            line -= 1;
        }
    }
    let message = match info {
        "mapping values are not allowed in this context" => {
            "mapping values are not allowed here (check the indentation of this line and the one above)".to_string()
        }
        other => other.to_string(),
    };
    (at, message)
}
