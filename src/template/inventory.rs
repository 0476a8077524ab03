//! Inventories: one record of variables per node, each with a unique `name`.
//!
//! A YAML or JSON file is a list of mappings (read with the spanned YAML reader, values as
//! in `vars`). A `.csv` file has a header row naming the columns, one of them `name`, and one
//! node per row; its values are text, and an empty cell leaves the variable undefined (so
//! `default(…)` applies). A name must be usable as a directory under `compile --out`:
//! letters, digits, `.`, `_` and `-`, starting with a letter or digit.

use std::collections::BTreeMap;

use minijinja::Value;

use super::vars::{InputFile, mapping, parse_tree, text_file};
use crate::diagnostic::{Finding, Severity, Span};
use crate::rules;
use crate::source::{self, SourceFile};

/// One inventory record.
#[derive(Debug, Clone)]
pub struct Record {
    /// The node's name.
    pub name: String,
    /// Its variables (`name` included).
    pub vars: BTreeMap<String, Value>,
}

/// Read an inventory named `name` (CSV when the name ends in `.csv`): the file and its
/// findings, and the records (`None` when it has errors).
#[must_use]
pub fn read(name: &str, bytes: Vec<u8>) -> (InputFile, Option<Vec<Record>>) {
    let (source, mut findings) = text_file(name, bytes);
    let mut records = Vec::new();
    if findings.is_empty() {
        if name.to_ascii_lowercase().ends_with(".csv") {
            csv_records(&source, &mut records, &mut findings);
        } else {
            yaml_records(&source, &mut records, &mut findings);
        }
    }
    let mut names: BTreeMap<String, Span> = BTreeMap::new();
    for (record, span) in &records {
        if !valid_name(&record.name) {
            findings.push(rules::template_vars::RULE.at(
                *span,
                format!(
                    "the node name {:?} cannot be a directory name; use letters, digits, `.`, `_` and `-`",
                    record.name
                ),
            ));
        }
        if let Some(first) = names.insert(record.name.clone(), *span) {
            findings.push(
                rules::template_vars::RULE
                    .at(*span, format!("two records are named {:?}", record.name))
                    .with_related(first, "first here"),
            );
        }
    }
    let ok = !findings.iter().any(|f| f.severity == Severity::Error);
    if ok && records.is_empty() {
        findings
            .push(rules::template_vars::RULE.at(Span::point(0), "the inventory has no records"));
    }
    crate::diagnostic::sort(&mut findings);
    let ok = !findings.iter().any(|f| f.severity == Severity::Error);
    let records = ok.then(|| records.into_iter().map(|(r, _)| r).collect());
    (InputFile { source, findings }, records)
}

fn valid_name(name: &str) -> bool {
    name.len() <= 200
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

fn yaml_records(source: &SourceFile, out: &mut Vec<(Record, Span)>, findings: &mut Vec<Finding>) {
    let Some(root) = parse_tree(source, findings) else {
        return;
    };
    let Some(items) = root.as_sequence() else {
        findings.push(not_a(
            &root,
            "an inventory must be a list of node records (each a mapping with a `name`)",
        ));
        return;
    };
    for item in items {
        if item.as_mapping().is_none() {
            findings.push(not_a(item, "an inventory record must be a mapping"));
            continue;
        }
        let name_node = item
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .rev()
            .find(|e| e.key_text() == Some("name"))
            .map(|e| &e.value);
        let vars = mapping(item, findings);
        match name_node.and_then(|n| n.as_scalar().map(|s| (n.span, s.text.clone()))) {
            Some((span, name)) if !name.is_empty() => {
                out.push((Record { name, vars }, span));
            }
            _ => findings.push(
                rules::template_vars::RULE.at(item.span, "this inventory record has no `name`"),
            ),
        }
    }
}

/// `WHAT, not A STRING` at `node`: the inventory's shape is wrong there.
fn not_a(node: &source::Node, what: &str) -> Finding {
    rules::template_vars::RULE.at(node.span, format!("{what}, not {}", node.describe()))
}

fn csv_records(source: &SourceFile, out: &mut Vec<(Record, Span)>, findings: &mut Vec<Finding>) {
    let line_span = |line: u64| {
        let line = usize::try_from(line).unwrap_or(usize::MAX);
        let start = source.index.line_start(line);
        Span::new(start, source.index.line_end(&source.text, line).max(start))
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(source.text.as_bytes());
    let headers = match reader.headers() {
        Ok(h) => h.clone(),
        Err(err) => {
            findings.push(csv_error(&err, line_span));
            return;
        }
    };
    let Some(name_col) = headers.iter().position(|h| h == "name") else {
        findings.push(rules::template_vars::RULE.at(
            line_span(1),
            "the header row has no `name` column; each node needs a name",
        ));
        return;
    };
    for (i, column) in headers.iter().enumerate() {
        if column.is_empty() {
            findings.push(rules::template_vars::RULE.at(
                line_span(1),
                format!("column {} of the header row has no name", i + 1),
            ));
        }
    }
    for result in reader.records() {
        let record = match result {
            Ok(r) => r,
            Err(err) => {
                findings.push(csv_error(&err, line_span));
                continue;
            }
        };
        let span = line_span(record.position().map_or(1, csv::Position::line));
        let mut vars = BTreeMap::new();
        for (column, cell) in headers.iter().zip(record.iter()) {
            if !cell.is_empty() && !column.is_empty() {
                vars.insert(column.to_string(), Value::from(cell));
            }
        }
        match record.get(name_col).filter(|n| !n.is_empty()) {
            Some(name) => out.push((
                Record {
                    name: name.to_string(),
                    vars,
                },
                span,
            )),
            None => findings.push(rules::template_vars::RULE.at(span, "this row has no `name`")),
        }
    }
}

fn csv_error(err: &csv::Error, line_span: impl Fn(u64) -> Span) -> Finding {
    let line = err.position().map_or(1, csv::Position::line);
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!("this row has {len} cells; the header row has {expected_len}"),
        _ => format!("not valid CSV: {err}"),
    };
    rules::template_vars::RULE.at(line_span(line), message)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of an inventory read without findings.
    fn read_cleanly(name: &str, bytes: &[u8]) -> Vec<Record> {
        let (v, r) = read(name, bytes.to_vec());
        assert!(v.findings.is_empty(), "{:?}", v.findings);
        r.unwrap()
    }

    /// The line of each finding of `v`, in order.
    fn finding_lines(v: &InputFile) -> Vec<usize> {
        v.findings
            .iter()
            .map(|f| v.source.position(f.span.start).line)
            .collect()
    }

    #[test]
    fn yaml_inventories() {
        let r = read_cleanly(
            "fleet.yaml",
            b"- name: web-01\n  role: web\n- name: web-02\n",
        );
        assert_eq!(r[1].name, "web-02");
        assert_eq!(r[0].vars["role"], Value::from("web"));
        let (v, r) = read(
            "fleet.yaml",
            b"- name: a\n- role: b\n- name: a\n- name: ../x\n".to_vec(),
        );
        assert!(r.is_none());
        let lines = finding_lines(&v);
        assert_eq!(lines, vec![2, 3, 4]);
    }

    #[test]
    fn csv_inventories() {
        let r = read_cleanly(
            "fleet.csv",
            b"name,role,ip\nweb-01,web,10.0.0.1\nweb-02,,10.0.0.2\n",
        );
        assert_eq!(r.len(), 2);
        assert!(!r[1].vars.contains_key("role"));
        let (v, r) = read("fleet.csv", b"name,role\nweb-01,web,extra\n,x\n".to_vec());
        assert!(r.is_none());
        let lines = finding_lines(&v);
        assert_eq!(lines, vec![2, 3]);
        let (v, _) = read("fleet.csv", b"host,role\na,b\n".to_vec());
        assert!(v.findings[0].message.contains("no `name` column"));
    }
}
