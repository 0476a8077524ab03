//! The structure walk: the YAML tree against the model's key tables.
//!
//! This is coreos-cloudinit's `checkStructure` and `checkValidity`, with kindling's
//! differences: a wrong type is an error, duplicate keys are reported, an empty value
//! gets its own warning, unknown keys come with suggestions, and `write_files` under
//! `coreos` is reported once.

use std::collections::HashMap;

use crate::diagnostic::{Finding, Span};
use crate::model::{CloudConfig, FieldSpec, Kind, SectionInfo, normalize_key};
use crate::rules;
use crate::source::scalar::{Resolved, resolve};
use crate::source::{Entry, Node, Style, Value};

/// Walk the document root.
pub fn walk(text: &str, root: &Node, out: &mut Vec<Finding>) {
    if root.is_null() {
        return;
    }
    match root.as_mapping() {
        Some(entries) => {
            section(text, &CloudConfig::INFO, entries, Path::Root, out);
            hyphen_keys(root, out);
        }
        None => out.push(rules::structure_root::RULE.at(
            root.span,
            format!("the document is {}, not a mapping of keys", root.describe()),
        )),
    }
}

/// One note for the whole document when known keys are written with `-` (kindling's
/// extensions aside).
fn hyphen_keys(root: &Node, out: &mut Vec<Finding>) {
    fn visit<'n>(node: &'n Node, info: &SectionInfo, found: &mut Vec<&'n Node>) {
        let Some(entries) = node.as_mapping() else {
            return;
        };
        for entry in entries {
            let Some(raw) = entry.key_text() else {
                continue;
            };
            let Some(spec) = info.field(&normalize_key(raw)) else {
                continue;
            };
            // coreos-cloudinit knows no kindling extension in either spelling, and only
            // kindling reads them: their spelling is not a portability question.
            if spec.extension.is_some() {
                continue;
            }
            if raw.contains('-') {
                found.push(&entry.key);
            }
            match spec.kind {
                Kind::Struct(inner) => visit(&entry.value, inner, found),
                Kind::StructList(inner) => {
                    for item in entry.value.as_sequence().unwrap_or(&[]) {
                        visit(item, inner, found);
                    }
                }
                _ => {}
            }
        }
    }
    let mut found = Vec::new();
    visit(root, &CloudConfig::INFO, &mut found);
    let Some(first) = found.first() else {
        return;
    };
    let mut names: Vec<&str> = found
        .iter()
        .filter_map(|n| n.as_scalar().map(|s| s.text.as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    let shown = names
        .iter()
        .take(5)
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let more = if names.len() > 5 {
        format!(" and {} more", names.len() - 5)
    } else {
        String::new()
    };
    out.push(rules::portability_hyphen_keys::RULE.at(
        first.span,
        format!(
            "{} key{} written with '-' ({shown}{more}): Flatcar's coreos-cloudinit 3975.2.0+ ignores them",
            found.len(),
            if found.len() == 1 { " is" } else { "s are" }
        ),
    ));
}

/// Where in the document a mapping is (`coreos.units[3]`), built on the stack and
/// formatted only when a message needs it.
#[derive(Clone, Copy)]
enum Path<'p> {
    Root,
    Key(&'p Path<'p>, &'p str),
    Index(&'p Path<'p>, usize),
}

impl Path<'_> {
    fn is_root(&self) -> bool {
        matches!(self, Path::Root)
    }
}

impl std::fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Key(parent, key) if parent.is_root() => f.write_str(key),
            Path::Key(parent, key) => write!(f, "{parent}.{key}"),
            Path::Index(parent, i) => write!(f, "{parent}[{i}]"),
        }
    }
}

fn section(
    text: &str,
    info: &SectionInfo,
    entries: &[Entry],
    path: Path<'_>,
    out: &mut Vec<Finding>,
) {
    let mut seen: HashMap<std::borrow::Cow<'_, str>, &Entry> = HashMap::new();
    for entry in entries {
        let Some(raw) = entry.key_text() else {
            continue;
        };
        let key = normalize_key(raw);
        if let Some(prev) = seen.insert(key.clone(), entry) {
            out.push(
                rules::yaml_duplicate_key::RULE
                    .at(
                        prev.key.span,
                        format!(
                            "{:?} is set again below; this value is ignored",
                            prev.key_text().unwrap_or(raw)
                        ),
                    )
                    .with_related(entry.key.span, "this one wins"),
            );
        }
        match info.field(&key) {
            None => out.push(unknown(info, entry, raw, &key, path)),
            Some(spec) => {
                if let Some(why) = spec.deprecated {
                    out.push(
                        rules::structure_deprecated_key::RULE
                            .at(entry.key.span, format!("{raw:?} is deprecated: {why}")),
                    );
                }
                value(
                    text,
                    spec,
                    entry.key.span,
                    &entry.value,
                    raw,
                    Path::Key(&path, &key),
                    out,
                );
            }
        }
    }
}

fn unknown(info: &SectionInfo, entry: &Entry, raw: &str, key: &str, path: Path<'_>) -> Finding {
    if info.path == "coreos" && key == "write_files" {
        return rules::write_files_under_coreos::RULE.at(
            entry.key.span,
            format!("{raw:?} is under coreos:, where it is ignored"),
        );
    }
    let place = if path.is_root() {
        String::new()
    } else {
        format!(" in {path}")
    };
    let finding = rules::structure_unknown_key::RULE.at(
        entry.key.span,
        format!("unknown key {raw:?}{place}; the node ignores it"),
    );
    match super::rules::structure_unknown_key::suggest(info, key) {
        Some(help) => finding.with_help(help),
        None => finding,
    }
}

/// Where a type finding points: the value when it is a scalar written on the key's line,
/// else the key.
fn type_span(text: &str, key_span: Span, node: &Node) -> Span {
    let same_line = text
        .get(key_span.end..node.span.start)
        .is_some_and(|between| !between.contains(['\n', '\r']));
    match node.value {
        Value::Scalar(_) if !node.span.is_empty() && same_line => node.span,
        _ => key_span,
    }
}

/// An `incorrect-type` finding: `name` must be `kind`, not what `node` is.
fn incorrect_type(out: &mut Vec<Finding>, name: &str, span: Span, node: &Node, kind: Kind) {
    let mut finding = rules::structure_incorrect_type::RULE.at(
        span,
        format!(
            "{name:?} must be {}, not {}",
            kind.describe(),
            node.describe()
        ),
    );
    if let (Kind::Bool, Some(s)) = (kind, node.as_scalar()) {
        if s.style != Style::Plain && crate::source::scalar::bool_word(&s.text).is_some() {
            finding = finding.with_help(format!(
                "remove the quotes: {:?} in quotes is a string",
                s.text
            ));
        } else {
            finding =
                finding.with_help("write true or false (YAML 1.1 also reads yes/no, on/off, y/n)");
        }
    }
    out.push(finding);
}

/// Whether a scalar kind's value resolves to that kind (an integer fits a float).
fn scalar_fits(kind: Kind, node: &Node) -> bool {
    let resolved = node.as_scalar().map(resolve);
    match kind {
        Kind::Bool => matches!(resolved, Some(Resolved::Bool(_))),
        Kind::Int => matches!(resolved, Some(Resolved::Int(_))),
        Kind::Float => matches!(resolved, Some(Resolved::Int(_) | Resolved::Float(_))),
        _ => true,
    }
}

fn value(
    text: &str,
    spec: &FieldSpec,
    key_span: Span,
    node: &Node,
    name: &str,
    path: Path<'_>,
    out: &mut Vec<Finding>,
) {
    if node.is_null() {
        out.push(
            rules::structure_empty_value::RULE
                .at(key_span, format!("{name:?} has no value; it is ignored")),
        );
        return;
    }
    match spec.kind {
        Kind::Text | Kind::Content => {
            let Some(scalar) = node.as_scalar() else {
                incorrect_type(out, name, key_span, node, spec.kind);
                return;
            };
            if let Some(rule) = spec.valid {
                // coreos-cloudinit never checks zero values.
                if !scalar.text.is_empty()
                    && let Err(why) = (rule.check)(&scalar.text)
                {
                    out.push(rule.rule.at(node.span, why.to_string()));
                }
            }
        }
        Kind::Bool | Kind::Int | Kind::Float => {
            if !scalar_fits(spec.kind, node) {
                incorrect_type(out, name, type_span(text, key_span, node), node, spec.kind);
            }
        }
        Kind::TextList => {
            let Some(items) = node.as_sequence() else {
                incorrect_type(out, name, key_span, node, spec.kind);
                return;
            };
            for (i, item) in items.iter().enumerate() {
                if item.as_scalar().is_none_or(|s| s.is_null()) {
                    incorrect_type(out, &format!("{name}[{i}]"), item.span, item, Kind::Text);
                }
            }
        }
        Kind::Struct(info) => match node.as_mapping() {
            Some(entries) => section(text, info, entries, path, out),
            None => incorrect_type(out, name, type_span(text, key_span, node), node, spec.kind),
        },
        Kind::StructList(info) => {
            let Some(items) = node.as_sequence() else {
                incorrect_type(out, name, type_span(text, key_span, node), node, spec.kind);
                return;
            };
            for (i, item) in items.iter().enumerate() {
                match item.as_mapping() {
                    Some(entries) => section(text, info, entries, Path::Index(&path, i), out),
                    None => incorrect_type(
                        out,
                        &format!("{name}[{i}]"),
                        item.span,
                        item,
                        Kind::Struct(info),
                    ),
                }
            }
        }
    }
}
