//! Check: every finding about a parsed cloud-config, never stopping at the first.
//!
//! First the structure walk (`structure`) compares the YAML tree with the model's key
//! tables: unknown, deprecated and duplicate keys, wrong types, empty values, and each
//! key's value rule. Then every rule in `rules::CHECKS` looks at the typed config.
//! Check is pure: no I/O, no clock, same input, same findings.

mod structure;
pub mod suppress;

use crate::diagnostic::Finding;
use crate::model::CloudConfig;
use crate::source::{Node, SourceFile};

/// What a rule may look at.
pub struct Context<'a> {
    /// The source text, for spans inside block scalars.
    pub source: &'a SourceFile,
    /// The YAML tree.
    pub root: &'a Node,
    /// The typed config.
    pub config: &'a CloudConfig,
}

/// All findings for a parsed document.
#[must_use]
pub fn check(source: &SourceFile, root: &Node, config: &CloudConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    structure::walk(&source.text, root, &mut out);
    let cx = Context {
        source,
        root,
        config,
    };
    for check in crate::rules::CHECKS {
        check(&cx, &mut out);
    }
    out
}
