//! Check: every finding about a parsed cloud-config, never stopping at the first.
//!
//! First the structure walk (`structure`) compares the YAML tree with the model's key
//! tables: unknown, deprecated and duplicate keys, wrong types, empty values, and each
//! key's value rule (`model::values`). Then every check in [`rules::CHECKS`] looks at the
//! typed config through a [`Context`]; each lives in `check/rules/`, one file per rule,
//! beside the rule's text in the catalogue (`crate::rules`, data only). Last, `suppress`
//! drops what `# kindling-ignore:` comments silence.
//! Check is pure: no I/O, no clock, same input, same findings.

mod context;
pub mod rules;
mod structure;
pub mod suppress;

pub use context::{Context, UnitDoc};

use crate::diagnostic::Finding;
use crate::model::CloudConfig;
use crate::source::{Node, SourceFile};

/// All findings for a parsed document.
#[must_use]
pub fn check(source: &SourceFile, root: &Node, config: &CloudConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    structure::walk(&source.text, root, &mut out);
    let cx = Context::new(source, root, config);
    for check in rules::CHECKS {
        check(&cx, &mut out);
    }
    out
}
