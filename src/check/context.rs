//! What a check may look at: the source, the YAML tree, the typed config, and every unit
//! file and drop-in of the config parsed once ([`Context`]).

use std::collections::HashMap;

use crate::diagnostic::Span;
use crate::model::{Block, CloudConfig, DropIn, Spanned, Unit};
use crate::source::{Node, SourceFile};
use crate::units::UnitText;

/// A unit file or drop-in of the config, parsed once for every rule that looks inside.
pub struct UnitDoc<'a> {
    /// The `coreos.units` entry.
    pub unit: &'a Spanned<Unit>,
    /// The unit's name.
    pub name: &'a str,
    /// The drop-in, when this is one.
    pub drop_in: Option<&'a Spanned<DropIn>>,
    /// The text as written in the config.
    pub content: &'a Spanned<Block>,
    /// The text as systemd reads it.
    pub text: UnitText,
}

/// What a rule may look at.
pub struct Context<'a> {
    /// The source text, for spans inside block scalars.
    pub source: &'a SourceFile,
    /// The YAML tree.
    pub root: &'a Node,
    /// The typed config.
    pub config: &'a CloudConfig,
    /// Every unit file and drop-in with content, parsed.
    pub units: Vec<UnitDoc<'a>>,
    /// Indexes into `units` by unit name (the unit's text first, then its drop-ins).
    by_name: HashMap<&'a str, Vec<usize>>,
}

impl UnitDoc<'_> {
    /// The span of the entry's `name` (the whole entry when it has none).
    #[must_use]
    pub fn name_span(&self) -> Span {
        self.unit
            .value
            .name
            .as_ref()
            .map_or(self.unit.span, |n| n.span)
    }
}

impl<'a> Context<'a> {
    /// Everything the checks look at, with every unit file and drop-in parsed once.
    #[must_use]
    pub fn new(source: &'a SourceFile, root: &'a Node, config: &'a CloudConfig) -> Self {
        let units = unit_docs(config);
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, doc) in units.iter().enumerate() {
            by_name.entry(doc.name).or_default().push(i);
        }
        Context {
            source,
            root,
            config,
            units,
            by_name,
        }
    }

    /// The unit files (not drop-ins) with content whose names end in `suffix`
    /// (`.service`).
    pub fn unit_files<'s>(&'s self, suffix: &'s str) -> impl Iterator<Item = &'s UnitDoc<'a>> {
        self.units
            .iter()
            .filter(move |d| d.drop_in.is_none() && d.name.ends_with(suffix))
    }

    /// The unit's own text and the config's drop-ins for it, in the order systemd reads them.
    pub fn unit_texts(&self, name: &str) -> impl Iterator<Item = &UnitDoc<'a>> {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .map(|i| &self.units[*i])
    }

    /// The span of bytes `range` of line `line` of a unit's text, in the YAML file (the
    /// whole value when the block is not a literal `|` block).
    #[must_use]
    pub fn unit_span(&self, doc: &UnitDoc<'_>, line: usize, range: (usize, usize)) -> Span {
        let c = doc.content;
        if !c.value.literal {
            return c.span;
        }
        let l = self
            .source
            .block_line_span(c.span, &c.value.text, true, line);
        let start = (l.start + range.0).min(l.end);
        let end = (l.start + range.1).min(l.end).max(start);
        Span::new(start, end)
    }
}

fn unit_docs(config: &CloudConfig) -> Vec<UnitDoc<'_>> {
    let mut out = Vec::new();
    for unit in config.units() {
        let name = unit.value.name();
        let own = std::iter::once((None, unit.value.content.as_ref()));
        let drop_ins = unit
            .value
            .drop_ins()
            .map(|d| (Some(d), d.value.content.as_ref()));
        for (drop_in, content) in own.chain(drop_ins) {
            if let Some(content) = content.filter(|c| !c.value.text.is_empty()) {
                out.push(UnitDoc {
                    unit,
                    name,
                    drop_in,
                    content,
                    text: crate::units::parse(&content.value.text),
                });
            }
        }
    }
    out
}
