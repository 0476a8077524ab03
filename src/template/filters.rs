//! The filters kindling adds to minijinja's builtins for values that go into YAML:
//! `b64encode` (for `encoding: b64` write_files) and `toyaml` (a value as YAML text that
//! reads back as the same value, quoted where a bare word would change type).
//!
//! `indent`, `tojson`, `default`, `join`, `upper` and the rest are minijinja's own; `tojson`
//! is also valid inline YAML (YAML 1.2 is a superset of JSON's flow syntax).

use base64::Engine as _;
use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind, State};

use crate::source::scalar::{Resolved, resolve_plain};

/// `{{ text | b64encode }}`: standard base64 (with padding) of the value's UTF-8 text.
pub fn b64encode(state: &State, value: &Value) -> Result<String, Error> {
    let encoded = match value.as_bytes() {
        Some(bytes) => base64::engine::general_purpose::STANDARD.encode(bytes),
        None => base64::engine::general_purpose::STANDARD.encode(value.to_string()),
    };
    state.consume_fuel(encoded.len() as u64 / 64)?;
    Ok(encoded)
}

/// `{{ value | toyaml }}`: the value as YAML. Scalars come out on one line (a string is
/// double-quoted when a bare word would be read as something else: `off`, `0644`, `null`,
/// `a: b`, leading indicators, line breaks); lists and mappings come out in block style,
/// without a trailing line break, ready for `| indent(N)`.
pub fn toyaml(state: &State, value: &Value) -> Result<String, Error> {
    let mut out = String::new();
    write_value(&mut out, value, 0, Place::Top)?;
    state.consume_fuel(out.len() as u64 / 64)?;
    Ok(out)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Place {
    /// The whole output.
    Top,
    /// After `key:` (a collection starts on the next line).
    MapValue,
    /// After `- ` (a mapping continues on the same line).
    SeqItem,
}

/// Deepest nesting `toyaml` writes: values from variables files are limited by the YAML
/// reader already, this guards values built inside the template.
const MAX_DEPTH: usize = 64;

fn write_value(out: &mut String, value: &Value, depth: usize, place: Place) -> Result<(), Error> {
    if depth > MAX_DEPTH {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "toyaml: the value nests deeper than 64 levels",
        ));
    }
    let pad = "  ".repeat(depth);
    match value.kind() {
        ValueKind::Map => {
            let keys: Vec<Value> = value.try_iter()?.collect();
            if keys.is_empty() {
                out.push_str("{}");
                return Ok(());
            }
            for (i, key) in keys.iter().enumerate() {
                let item = value.get_item(key)?;
                let first_inline = i == 0 && place == Place::SeqItem;
                if place == Place::MapValue || (i > 0) {
                    out.push('\n');
                }
                if !first_inline && (place != Place::Top || i > 0 || depth > 0) {
                    out.push_str(&pad);
                }
                out.push_str(&scalar(&key.to_string()));
                out.push(':');
                if is_collection(&item) && !is_empty(&item) {
                    write_value(out, &item, depth + 1, Place::MapValue)?;
                } else {
                    out.push(' ');
                    write_value(out, &item, depth + 1, Place::MapValue)?;
                }
            }
        }
        ValueKind::Seq | ValueKind::Iterable => {
            let items: Vec<Value> = value.try_iter()?.collect();
            if items.is_empty() {
                out.push_str("[]");
                return Ok(());
            }
            // A list under a key sits at the key's indentation, as most YAML is written.
            let list_depth = if place == Place::MapValue {
                depth.saturating_sub(1)
            } else {
                depth
            };
            let list_pad = "  ".repeat(list_depth);
            for (i, item) in items.iter().enumerate() {
                let first_inline = i == 0 && place == Place::SeqItem;
                if place == Place::MapValue || i > 0 {
                    out.push('\n');
                }
                if !first_inline && (place != Place::Top || i > 0 || list_depth > 0) {
                    out.push_str(&list_pad);
                }
                out.push_str("- ");
                write_value(out, item, list_depth + 1, Place::SeqItem)?;
            }
        }
        ValueKind::Undefined => {
            return Err(Error::new(
                ErrorKind::UndefinedError,
                "toyaml was given an undefined value",
            ));
        }
        ValueKind::None => out.push_str("null"),
        ValueKind::Bool => out.push_str(if value.is_true() { "true" } else { "false" }),
        ValueKind::Number => out.push_str(&value.to_string()),
        _ => out.push_str(&scalar(&value.to_string())),
    }
    Ok(())
}

fn is_collection(v: &Value) -> bool {
    matches!(
        v.kind(),
        ValueKind::Map | ValueKind::Seq | ValueKind::Iterable
    )
}

fn is_empty(v: &Value) -> bool {
    v.len() == Some(0)
}

/// A string as a YAML scalar: bare when both YAML 1.1 (the node) and 1.2 read it back as
/// the same string, else double-quoted with JSON escapes (which YAML shares).
fn scalar(text: &str) -> String {
    if plain_is_safe(text) {
        text.to_string()
    } else {
        serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_string())
    }
}

fn plain_is_safe(text: &str) -> bool {
    let Some(first) = text.chars().next() else {
        return false;
    };
    if "-?:,[]{}#&*!|>'\"%@`~".contains(first) || first.is_whitespace() {
        return false;
    }
    if text.ends_with(char::is_whitespace) || text.ends_with(':') {
        return false;
    }
    if text.contains(": ") || text.contains(" #") || text.chars().any(char::is_control) {
        return false;
    }
    // Words YAML 1.1 reads as null, booleans or numbers (`off`, `0644`, `1e3`, `.inf`).
    resolve_plain(text) == Resolved::Str
        && !matches!(
            text.to_ascii_lowercase().as_str(),
            ".inf" | "-.inf" | ".nan"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(value: Value) -> String {
        let mut out = String::new();
        write_value(&mut out, &value, 0, Place::Top).unwrap();
        out
    }

    #[test]
    fn scalars_are_quoted_only_when_needed() {
        for (text, written) in [
            ("web-01", "web-01"),
            ("off", "\"off\""),
            ("0644", "\"0644\""),
            ("a: b", "\"a: b\""),
            ("line\nbreak", "\"line\\nbreak\""),
            ("", "\"\""),
            ("-x", "\"-x\""),
            ("http://x:1/a", "http://x:1/a"),
        ] {
            assert_eq!(scalar(text), written);
        }
        assert_eq!(yaml(Value::from(true)), "true");
        assert_eq!(yaml(Value::from(())), "null");
        assert_eq!(yaml(Value::from(7)), "7");
    }

    #[test]
    fn collections_are_block_yaml() {
        let mut inner = std::collections::BTreeMap::new();
        inner.insert("name".to_string(), Value::from("etcd.service"));
        inner.insert("enable".to_string(), Value::from(true));
        let mut top = std::collections::BTreeMap::new();
        top.insert(
            "units".to_string(),
            Value::from(vec![Value::from(inner.clone()), Value::from(inner)]),
        );
        top.insert("empty".to_string(), Value::from(Vec::<Value>::new()));
        top.insert("group".to_string(), Value::from("stable"));
        assert_eq!(
            yaml(Value::from(top)),
            "empty: []\ngroup: stable\nunits:\n- enable: true\n  name: etcd.service\n- enable: true\n  name: etcd.service"
        );
        assert_eq!(
            yaml(Value::from(vec![
                Value::from(vec![Value::from("a")]),
                Value::from("b")
            ])),
            "- - a\n- b"
        );
    }
}
