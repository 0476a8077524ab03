//! The spanned YAML tree every later stage reads.
//!
//! It is deliberately small: scalars keep their *raw text* and style (the cloud-config
//! dialect gives a string field the text as written, so `0644` stays `"0644"`), mappings
//! keep every entry in order, duplicates included, so the checker can report them.
//! Aliases are already expanded and merge keys (`<<`) already applied by the builder.

use super::scalar::{Resolved, Scalar, resolve};
use crate::diagnostic::Span;

/// One `key: value` pair of a mapping.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The key node (a scalar in every valid cloud-config).
    pub key: Node,
    /// The value node.
    pub value: Node,
}

/// The content of a node.
#[derive(Debug, Clone)]
pub enum Value {
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Sequence(Vec<Node>),
    /// A mapping, entries in document order.
    Mapping(Vec<Entry>),
}

/// A YAML node and where it is.
#[derive(Debug, Clone)]
pub struct Node {
    /// Where the node is written: for a scalar its text (a block scalar: its body), for
    /// a collection its first key or item (a flow collection: its opening bracket).
    pub span: Span,
    /// What it holds.
    pub value: Value,
}

impl Node {
    /// The scalar, if this is one.
    #[must_use]
    pub fn as_scalar(&self) -> Option<&Scalar> {
        match &self.value {
            Value::Scalar(s) => Some(s),
            _ => None,
        }
    }

    /// The entries, if this is a mapping.
    #[must_use]
    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.value {
            Value::Mapping(m) => Some(m),
            _ => None,
        }
    }

    /// The items, if this is a sequence.
    #[must_use]
    pub fn as_sequence(&self) -> Option<&[Node]> {
        match &self.value {
            Value::Sequence(s) => Some(s),
            _ => None,
        }
    }

    /// Whether this is a null scalar.
    #[must_use]
    pub fn is_null(&self) -> bool {
        self.as_scalar().is_some_and(Scalar::is_null)
    }

    /// A word for the node's kind, for messages: `a mapping`, `a list`, `the string "x"`.
    #[must_use]
    pub fn describe(&self) -> String {
        match &self.value {
            Value::Mapping(_) => "a mapping".to_string(),
            Value::Sequence(_) => "a list".to_string(),
            Value::Scalar(s) if s.is_null() => "no value".to_string(),
            Value::Scalar(s) => {
                let shown: String = s.text.chars().take(40).collect();
                let more = if s.text.chars().count() > 40 {
                    "…"
                } else {
                    ""
                };
                match resolve(s) {
                    Resolved::Bool(_) => format!("the boolean {shown}"),
                    Resolved::Int(_) | Resolved::Float(_) => format!("the number {shown}"),
                    _ => format!("the string {:?}", format!("{shown}{more}")),
                }
            }
        }
    }

    /// Number of nodes in this subtree (itself included).
    #[must_use]
    pub fn size(&self) -> usize {
        match &self.value {
            Value::Scalar(_) => 1,
            Value::Sequence(items) => 1 + items.iter().map(Node::size).sum::<usize>(),
            Value::Mapping(entries) => {
                1 + entries
                    .iter()
                    .map(|e| e.key.size() + e.value.size())
                    .sum::<usize>()
            }
        }
    }
}

impl Entry {
    /// The key's text when the key is a scalar.
    #[must_use]
    pub fn key_text(&self) -> Option<&str> {
        self.key.as_scalar().map(|s| s.text.as_str())
    }
}
