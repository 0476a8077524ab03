//! Variables: `--vars` files (YAML or JSON), `--var NAME=VALUE`, and the [`NodeVars`] they make.
//!
//! Files are read with the project's spanned YAML reader (JSON is YAML), so a mistake in
//! one is a finding at its own line and column. Values are read with YAML 1.2's core types,
//! not 1.1's: only `true`/`false` are booleans (`yes/no/on/off/y/n` stay words and get a
//! [`template::ambiguous-value`](crate::rules::template_ambiguous_value) warning), only plain
//! decimal numbers without leading zeros are numbers (`0644` stays the text `0644`, so a
//! mode renders as written), `~`/`null`/empty are none; quoted and block scalars are text.
//!
//! Precedence, lowest first: `--vars` files in the order given, then the node's inventory
//! record, then `--var`. Merging is by top-level name (a later value replaces the whole
//! earlier one).

use std::collections::BTreeMap;

use minijinja::Value;

use crate::diagnostic::{Finding, Severity, Span};
use crate::rules;
use crate::source::{self, LineIndex, SourceFile, UserData};

/// One node to render: its name (from the inventory, or a `name` variable) and its
/// variables. (Not `source::Node`, a node of the YAML tree.)
#[derive(Debug, Clone)]
pub struct NodeVars {
    /// The node's name, when it has one.
    pub name: Option<String>,
    /// Its variables, merged.
    pub vars: BTreeMap<String, Value>,
}

impl NodeVars {
    /// A node from merged variables; its name is the `name` variable when that is text.
    #[must_use]
    pub fn new(vars: BTreeMap<String, Value>) -> NodeVars {
        let name = vars
            .get("name")
            .and_then(|v| v.as_str().map(str::to_string));
        NodeVars { name, vars }
    }

    /// The render context.
    #[must_use]
    pub fn context(&self) -> Value {
        Value::from(self.vars.clone())
    }

    /// The names of its variables.
    #[must_use]
    pub fn keys(&self) -> Vec<&str> {
        self.vars.keys().map(String::as_str).collect()
    }
}

/// A variables file or an inventory as read: its text and what is wrong with it (positions
/// in it). `validate::input_file` makes it a validation for the reports.
#[derive(Debug)]
pub struct InputFile {
    /// The file's text.
    pub source: SourceFile,
    /// Its findings, sorted.
    pub findings: Vec<Finding>,
}

/// A text file as a [`SourceFile`] (UTF-8 checked, not classified), with the finding for
/// bytes that are not UTF-8.
#[must_use]
pub fn text_file(name: &str, bytes: Vec<u8>) -> (SourceFile, Vec<Finding>) {
    let mut findings = Vec::new();
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let at = err.utf8_error().valid_up_to();
            // The span covers the U+FFFD the byte becomes in the text.
            findings.push(rules::template_vars::RULE.at(
                Span::new(at, at + char::REPLACEMENT_CHARACTER.len_utf8()),
                format!("byte {at} is not valid UTF-8"),
            ));
            String::from_utf8_lossy(err.as_bytes()).into_owned()
        }
    };
    let index = LineIndex::new(&text);
    let source = SourceFile {
        name: name.to_string(),
        text,
        index,
        kind: UserData::Unrecognized,
        gzipped: false,
    };
    (source, findings)
}

/// Parse `source` as YAML, its findings added to `findings`: the tree, when there is one and
/// the text has no error (after a YAML error nothing else can be said reliably).
#[must_use]
pub fn parse_tree(source: &SourceFile, findings: &mut Vec<Finding>) -> Option<source::Node> {
    let parsed = source::yaml::parse(&source.text, &source.index);
    let failed = parsed
        .findings
        .iter()
        .any(|f| f.severity == Severity::Error);
    findings.extend(parsed.findings);
    if failed { None } else { parsed.root }
}

/// Read a `--vars` file: the file and its findings (positions in it) and its variables
/// (`None` when it has errors).
#[must_use]
pub fn read_vars_file(name: &str, bytes: Vec<u8>) -> (InputFile, Option<BTreeMap<String, Value>>) {
    let (source, mut findings) = text_file(name, bytes);
    let parsed = source::yaml::parse(&source.text, &source.index);
    findings.extend(parsed.findings);
    let mut vars = None;
    if !findings.iter().any(|f| f.severity == Severity::Error) {
        match &parsed.root {
            None => vars = Some(BTreeMap::new()),
            Some(root) if root.is_null() => vars = Some(BTreeMap::new()),
            Some(root) => match &root.value {
                source::Value::Mapping(_) => {
                    vars = Some(mapping(root, &mut findings));
                }
                _ => findings.push(rules::template_vars::RULE.at(
                    root.span,
                    format!(
                        "a variables file must be a mapping of names to values, not {}",
                        root.describe()
                    ),
                )),
            },
        }
    }
    if findings.iter().any(|f| f.severity == Severity::Error) {
        vars = None;
    }
    crate::diagnostic::sort(&mut findings);
    (InputFile { source, findings }, vars)
}

/// The entries of a mapping node as variables (duplicate and non-text keys are findings).
pub(super) fn mapping(node: &source::Node, findings: &mut Vec<Finding>) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    let mut seen: BTreeMap<String, Span> = BTreeMap::new();
    for entry in node.as_mapping().unwrap_or_default() {
        let Some(key) = entry.key_text() else {
            findings.push(
                rules::template_vars::RULE.at(entry.key.span, "a variable's name must be text"),
            );
            continue;
        };
        if let Some(first) = seen.insert(key.to_string(), entry.key.span) {
            findings.push(
                rules::template_vars::RULE
                    .at(
                        entry.key.span,
                        format!("`{key}` is written twice; the last one wins"),
                    )
                    .with_severity(Severity::Warning)
                    .with_related(first, "first here"),
            );
        }
        out.insert(key.to_string(), value(&entry.value, findings));
    }
    out
}

/// A YAML node as a template value (see the module docs for how scalars read).
pub(super) fn value(node: &source::Node, findings: &mut Vec<Finding>) -> Value {
    match &node.value {
        source::Value::Mapping(_) => Value::from(mapping(node, findings)),
        source::Value::Sequence(items) => {
            Value::from(items.iter().map(|i| value(i, findings)).collect::<Vec<_>>())
        }
        source::Value::Scalar(s) => {
            let plain = s.style == source::Style::Plain
                && !matches!(
                    s.tag,
                    Some(source::Tag::Str | source::Tag::Binary | source::Tag::Other(_))
                );
            if !plain {
                return Value::from(s.text.as_str());
            }
            scalar(&s.text, node.span, findings)
        }
    }
}

fn scalar(text: &str, span: Span, findings: &mut Vec<Finding>) -> Value {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Value::from(()),
        "true" | "True" | "TRUE" => return Value::from(true),
        "false" | "False" | "FALSE" => return Value::from(false),
        _ => {}
    }
    if crate::source::scalar::bool_word(text).is_some() {
        findings.push(rules::template_ambiguous_value::RULE.at(
            span,
            format!("`{text}` is the text {text:?} here, not a boolean"),
        ));
        return Value::from(text);
    }
    if let Some(n) = decimal(text) {
        return n;
    }
    Value::from(text)
}

/// Plain decimal numbers without leading zeros: `-12`, `0`, `3.5`, `1.5e3`.
fn decimal(text: &str) -> Option<Value> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let int_part = digits.split(['.', 'e', 'E']).next().unwrap_or("");
    if int_part.is_empty()
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || (int_part.len() > 1 && int_part.starts_with('0'))
    {
        return None;
    }
    if digits.len() == int_part.len() {
        return text.parse::<i64>().ok().map(Value::from);
    }
    let rest = &digits[int_part.len()..];
    let valid_rest = rest
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'-' | b'+'));
    if !valid_rest || rest.ends_with(['.', 'e', 'E', '-', '+']) {
        return None;
    }
    text.parse::<f64>().ok().map(Value::from)
}

/// What is wrong with a `--var NAME=VALUE` argument.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VarError {
    /// No `=` in the argument.
    #[error("{0:?} is not NAME=VALUE")]
    NotAssignment(String),
    /// The name is not one a template can use.
    #[error("{0:?} is not a variable name (letters, digits and _, not starting with a digit)")]
    BadName(String),
    /// The value has a line break.
    #[error("a variable's value cannot contain a line break")]
    LineBreak,
}

/// `NAME=VALUE` from the command line: a name a template can use (`[A-Za-z_][A-Za-z0-9_]*`;
/// a leading `$` is dropped, for `$private_ipv4`) and a value without line breaks.
///
/// # Errors
/// What is wrong with the argument.
pub fn parse_var(text: &str) -> Result<(String, String), VarError> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| VarError::NotAssignment(text.to_string()))?;
    let name = name.trim_start_matches('$');
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !valid {
        return Err(VarError::BadName(name.to_string()));
    }
    if value.contains(['\n', '\r']) {
        return Err(VarError::LineBreak);
    }
    Ok((name.to_string(), value.to_string()))
}

/// Merge: `files` in order, then `record`, then `cli` (`--var`, always text).
#[must_use]
pub fn merge(
    files: &[BTreeMap<String, Value>],
    record: Option<&BTreeMap<String, Value>>,
    cli: &[(String, String)],
) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for file in files {
        out.extend(file.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    if let Some(record) = record {
        out.extend(record.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    for (k, v) in cli {
        out.insert(k.clone(), Value::from(v.as_str()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> (InputFile, Option<BTreeMap<String, Value>>) {
        read_vars_file("vars.yaml", text.as_bytes().to_vec())
    }

    #[test]
    fn scalars_read_as_yaml_core() {
        let (v, vars) = read(
            "a: 1\nb: 0644\nc: off\nd: \"off\"\ne: true\nf: ~\ng: 1.5\nh: [x, 2]\ni: {k: v}\nj: 1.2.3\n",
        );
        let vars = vars.unwrap();
        assert_eq!(vars["a"], Value::from(1));
        assert_eq!(vars["b"], Value::from("0644"));
        assert_eq!(vars["c"], Value::from("off"));
        assert_eq!(vars["d"], Value::from("off"));
        assert_eq!(vars["e"], Value::from(true));
        assert!(vars["f"].is_none());
        assert_eq!(vars["g"], Value::from(1.5));
        assert_eq!(vars["h"].len(), Some(2));
        assert_eq!(vars["j"], Value::from("1.2.3"));
        assert_eq!(v.findings.len(), 1);
        assert_eq!(v.findings[0].code(), "kindling::template::ambiguous-value");
        assert_eq!(v.source.position(v.findings[0].span.start).line, 3);
    }

    #[test]
    fn json_and_mistakes() {
        let (v, vars) = read("{\"a\": [1, 2], \"b\": \"x\"}");
        assert!(v.findings.is_empty());
        assert_eq!(vars.unwrap()["b"], Value::from("x"));
        let (v, vars) = read("- a\n- b\n");
        assert!(vars.is_none());
        assert_eq!(v.findings[0].code(), "kindling::template::vars");
        let (v, vars) = read("a: [1\n");
        assert!(vars.is_none());
        assert_eq!(v.findings[0].code(), "kindling::yaml::syntax");
        let (v, vars) = read("a: 1\na: 2\n");
        assert_eq!(vars.unwrap()["a"], Value::from(2));
        assert_eq!(v.source.position(v.findings[0].span.start).line, 2);
    }

    #[test]
    fn command_line_variables() {
        assert_eq!(
            parse_var("$private_ipv4=10.0.0.1").unwrap(),
            ("private_ipv4".into(), "10.0.0.1".into())
        );
        assert_eq!(parse_var("role=a=b").unwrap().1, "a=b");
        assert!(parse_var("1x=2").is_err());
        assert!(parse_var("x").is_err());
        assert!(parse_var("a-b=1").is_err());
    }
}
