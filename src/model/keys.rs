//! The vocabulary of the key tables: [`Spanned`] values, the [`Kind`] of a key, a
//! section's table ([`SectionInfo`] of [`FieldSpec`]s), how each field type is read from
//! the YAML tree ([`FieldValue`]) and written to an environment file ([`AsEnv`]), and the
//! `section!` macro that declares a section with all of these at once.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::values::ValueRule;
use crate::diagnostic::Span;
use crate::source::scalar::{self, Resolved};
use crate::source::{Entry, Node, Scalar, Style, Tag};

/// A value and where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Spanned<T> {
    /// The value.
    pub value: T,
    /// The value's span.
    pub span: Span,
    /// The span of the key that introduced it (the item itself for list items).
    pub key_span: Span,
}

impl<T> Spanned<T> {
    /// Read the value of a mapping entry.
    pub fn read_entry(entry: &Entry) -> Option<Self>
    where
        T: FieldValue,
    {
        T::read(&entry.value).map(|value| Spanned {
            value,
            span: entry.value.span,
            key_span: entry.key.span,
        })
    }

    /// Read a list item.
    pub fn read_item(node: &Node) -> Option<Self>
    where
        T: FieldValue,
    {
        T::read(node).map(|value| Spanned {
            value,
            span: node.span,
            key_span: node.span,
        })
    }
}

impl<T: FieldValue> JsonSchema for Spanned<T> {
    fn inline_schema() -> bool {
        true
    }

    fn schema_name() -> Cow<'static, str> {
        T::schema_name()
    }

    fn json_schema(generator: &mut SchemaGenerator) -> Schema {
        T::schema(generator)
    }
}

/// What type a key wants, in the words of coreos-cloudinit's validator.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A string; any non-null scalar is accepted and its raw text kept.
    Text,
    /// A YAML 1.1 boolean.
    Bool,
    /// An integer.
    Int,
    /// A number.
    Float,
    /// File content: a string or `!!binary` bytes.
    Content,
    /// A list of strings.
    TextList,
    /// A mapping with known keys.
    Struct(&'static SectionInfo),
    /// A list of such mappings.
    StructList(&'static SectionInfo),
}

impl Kind {
    /// The kind of a list of this kind.
    #[must_use]
    pub const fn list(self) -> Kind {
        match self {
            Kind::Struct(info) => Kind::StructList(info),
            _ => Kind::TextList,
        }
    }

    /// coreos-cloudinit's name for the type (`want bool`, `want []struct`).
    #[must_use]
    pub const fn go_name(self) -> &'static str {
        match self {
            Kind::Text | Kind::Content => "string",
            Kind::Bool => "bool",
            Kind::Int => "int",
            Kind::Float => "float64",
            Kind::TextList => "[]string",
            Kind::Struct(_) => "struct",
            Kind::StructList(_) => "[]struct",
        }
    }

    /// A plain-English description, for messages.
    #[must_use]
    pub const fn describe(self) -> &'static str {
        match self {
            Kind::Text => "a string",
            Kind::Content => "a string or !!binary data",
            Kind::Bool => "a boolean (true or false)",
            Kind::Int => "a whole number",
            Kind::Float => "a number",
            Kind::TextList => "a list of strings",
            Kind::Struct(_) => "a mapping",
            Kind::StructList(_) => "a list of mappings",
        }
    }
}

/// One key of a section.
#[derive(Debug)]
pub struct FieldSpec {
    /// The key, `_` form (the struct tag of coreos-cloudinit).
    pub key: &'static str,
    /// The type it wants.
    pub kind: Kind,
    /// Why it is deprecated, when it is.
    pub deprecated: Option<&'static str>,
    /// The rule its text must pass.
    pub valid: Option<&'static ValueRule>,
    /// The environment variable it becomes, for sections compiled to env files.
    pub env: Option<&'static str>,
    /// Why it is a kindling extension, when it is one.
    pub extension: Option<&'static str>,
}

/// The keys of one section.
#[derive(Debug)]
pub struct SectionInfo {
    /// Where the section is, `coreos.update`; empty for the document root.
    pub path: &'static str,
    /// Its keys.
    pub fields: &'static [FieldSpec],
}

impl SectionInfo {
    /// The spec of a (normalised) key.
    #[must_use]
    pub fn field(&self, key: &str) -> Option<&'static FieldSpec> {
        self.fields.iter().find(|f| f.key == key)
    }
}

/// A type a field can have.
pub trait FieldValue: Sized {
    /// Its kind, for the checker.
    const KIND: Kind;

    /// Read a node; `None` when the node is not of this type (the checker says why).
    fn read(node: &Node) -> Option<Self>;

    /// Name used in the JSON Schema.
    fn schema_name() -> Cow<'static, str>;

    /// The JSON Schema of the value as it may be written in YAML.
    fn schema(generator: &mut SchemaGenerator) -> Schema;
}

/// A value that becomes an environment variable, before formatting.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EnvValue<'a> {
    /// Text, written as is.
    Text(&'a str),
    /// A boolean (`true` when set).
    Bool(bool),
    /// An integer.
    Int(i64),
    /// A float (Go `%v`).
    Float(f64),
}

impl EnvValue<'_> {
    /// Whether this is Go's zero value, which coreos-cloudinit leaves out.
    #[must_use]
    pub fn is_zero(&self) -> bool {
        match *self {
            EnvValue::Text(t) => t.is_empty(),
            EnvValue::Bool(b) => !b,
            EnvValue::Int(i) => i == 0,
            EnvValue::Float(f) => f == 0.0,
        }
    }
}

/// Types whose values can become environment variables.
pub trait AsEnv {
    /// The value.
    fn as_env(&self) -> EnvValue<'_>;
}

impl AsEnv for String {
    fn as_env(&self) -> EnvValue<'_> {
        EnvValue::Text(self)
    }
}

impl AsEnv for Block {
    fn as_env(&self) -> EnvValue<'_> {
        EnvValue::Text(&self.text)
    }
}

impl AsEnv for bool {
    fn as_env(&self) -> EnvValue<'_> {
        EnvValue::Bool(*self)
    }
}

impl AsEnv for i64 {
    fn as_env(&self) -> EnvValue<'_> {
        EnvValue::Int(*self)
    }
}

impl AsEnv for f64 {
    fn as_env(&self) -> EnvValue<'_> {
        EnvValue::Float(*self)
    }
}

/// `-` and `_` are interchangeable in keys: normalise to `_`.
#[must_use]
pub fn normalize_key(key: &str) -> Cow<'_, str> {
    if key.contains('-') {
        Cow::Owned(key.replace('-', "_"))
    } else {
        Cow::Borrowed(key)
    }
}

/// The scalar, unless the node is a null or not a scalar.
fn non_null(node: &Node) -> Option<&Scalar> {
    node.as_scalar().filter(|s| !s.is_null())
}

impl FieldValue for String {
    const KIND: Kind = Kind::Text;

    fn read(node: &Node) -> Option<Self> {
        let s = non_null(node)?;
        if s.tag == Some(Tag::Binary) {
            return String::from_utf8(crate::encoding::decode_binary_tag(&s.text).ok()?).ok();
        }
        Some(s.text.clone())
    }

    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }

    fn schema(_: &mut SchemaGenerator) -> Schema {
        // The dialect keeps the raw text of any scalar in a string field.
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

impl FieldValue for bool {
    const KIND: Kind = Kind::Bool;

    fn read(node: &Node) -> Option<Self> {
        let s = node.as_scalar()?;
        match scalar::resolve(s) {
            Resolved::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn schema_name() -> Cow<'static, str> {
        "Flag".into()
    }

    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "description": "A YAML 1.1 boolean: true/false, yes/no, on/off, y/n.",
            "anyOf": [
                { "type": "boolean" },
                { "enum": ["y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
                           "on", "On", "ON", "off", "Off", "OFF"] }
            ]
        })
    }
}

/// A number field: the kind, the schema's name and JSON type, and what the resolved
/// scalar gives.
macro_rules! number_field {
    ($ty:ty, $kind:expr, $name:literal, $json:literal, $from:expr) => {
        impl FieldValue for $ty {
            const KIND: Kind = $kind;

            fn read(node: &Node) -> Option<Self> {
                $from(scalar::resolve(node.as_scalar()?))
            }

            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": $json })
            }
        }
    };
}

number_field!(i64, Kind::Int, "Int", "integer", |r| match r {
    Resolved::Int(i) => Some(i),
    _ => None,
});
number_field!(f64, Kind::Float, "Number", "number", |r| match r {
    Resolved::Int(i) => Some(i as f64),
    Resolved::Float(f) => Some(f),
    _ => None,
});

/// The `content` of a `write_files` entry: text, or bytes given as `!!binary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    /// The bytes before any `encoding` is applied.
    pub bytes: Vec<u8>,
    /// Whether they came from a `!!binary` scalar.
    pub binary: bool,
    /// Whether the scalar was a literal (`|`) block, whose lines map to source lines.
    pub literal: bool,
    /// Why `!!binary` text was not valid base64 (then `bytes` holds the text as written).
    pub binary_error: Option<String>,
}

impl FieldValue for Content {
    const KIND: Kind = Kind::Content;

    fn read(node: &Node) -> Option<Self> {
        let s = non_null(node)?;
        if s.tag == Some(Tag::Binary) {
            return Some(match crate::encoding::decode_binary_tag(&s.text) {
                Ok(bytes) => Content {
                    bytes,
                    binary: true,
                    literal: false,
                    binary_error: None,
                },
                Err(e) => Content {
                    bytes: s.text.clone().into_bytes(),
                    binary: true,
                    literal: false,
                    binary_error: Some(e.to_string()),
                },
            });
        }
        Some(Content {
            bytes: s.text.clone().into_bytes(),
            binary: false,
            literal: s.style == Style::Literal,
            binary_error: None,
        })
    }

    fn schema_name() -> Cow<'static, str> {
        "Content".into()
    }

    fn schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({ "type": ["string", "number", "boolean"] })
    }
}

/// Text that may be a block scalar, such as a unit file: remembers whether it was a
/// literal (`|`) block so findings inside it can point at the right source line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Block {
    /// The text.
    pub text: String,
    /// Whether it was written as a literal (`|`) block.
    pub literal: bool,
}

impl FieldValue for Block {
    const KIND: Kind = Kind::Text;

    fn read(node: &Node) -> Option<Self> {
        let literal = node.as_scalar()?.style == Style::Literal;
        String::read(node).map(|text| Block { text, literal })
    }

    fn schema_name() -> Cow<'static, str> {
        "Text".into()
    }

    fn schema(generator: &mut SchemaGenerator) -> Schema {
        String::schema(generator)
    }
}

impl<T: FieldValue> FieldValue for Vec<Spanned<T>> {
    const KIND: Kind = T::KIND.list();

    fn read(node: &Node) -> Option<Self> {
        let items = node.as_sequence()?;
        Some(items.iter().filter_map(Spanned::read_item).collect())
    }

    fn schema_name() -> Cow<'static, str> {
        format!("ListOf{}", T::schema_name()).into()
    }

    fn schema(generator: &mut SchemaGenerator) -> Schema {
        let items = T::schema(generator);
        json_schema!({ "type": "array", "items": items })
    }
}

/// `Some(x)` for one argument, `None` for none: turns optional macro fragments into
/// `Option`s.
macro_rules! opt {
    () => {
        None
    };
    ($e:expr) => {
        Some($e)
    };
}
pub(crate) use opt;

/// Declare a section: the struct, its key table, and how to read it from a mapping.
///
/// ```ignore
/// section! {
///     /// doc
///     pub struct Update in "coreos.update" {
///         /// doc
///         @valid(values::REBOOT_STRATEGY) @env("REBOOT_STRATEGY")
///         reboot_strategy: String,
///     }
/// }
/// ```
macro_rules! section {
    (
        $(#[$smeta:meta])*
        pub struct $name:ident in $path:literal {
            $(
                $(#[$fmeta:meta])*
                $(@deprecated($dep:literal))?
                $(@valid($valid:path))?
                $(@env($env:literal))?
                $(@extension($ext:literal))?
                $field:ident : $ty:ty
            ),* $(,)?
        }
    ) => {
        $(#[$smeta])*
        #[derive(Debug, Clone, Default, PartialEq, schemars::JsonSchema)]
        #[schemars(deny_unknown_fields)]
        pub struct $name {
            $(
                $(#[$fmeta])*
                $(#[schemars(extend("deprecated" = true, "x-deprecation" = $dep))])?
                $(#[schemars(extend("x-kindling-extension" = $ext))])?
                pub $field: Option<$crate::model::Spanned<$ty>>,
            )*
        }

        impl $name {
            /// The keys of this section.
            pub const INFO: $crate::model::SectionInfo = $crate::model::SectionInfo {
                path: $path,
                fields: &[
                    $(
                        $crate::model::FieldSpec {
                            key: stringify!($field),
                            kind: <$ty as $crate::model::FieldValue>::KIND,
                            deprecated: $crate::model::opt!($($dep)?),
                            valid: $crate::model::opt!($(&$valid)?),
                            env: $crate::model::opt!($($env)?),
                            extension: $crate::model::opt!($($ext)?),
                        },
                    )*
                ],
            };
        }

        impl $name {
            /// The keys that become environment variables, in declaration order, with
            /// their values when set.
            #[allow(unused_mut)]
            #[must_use]
            pub fn env_values(&self) -> Vec<(&'static str, $crate::model::EnvValue<'_>)> {
                let mut out = Vec::new();
                $(
                    $(
                        if let Some(v) = &self.$field {
                            out.push(($env, $crate::model::AsEnv::as_env(&v.value)));
                        }
                    )?
                )*
                out
            }
        }

        impl $crate::model::FieldValue for $name {
            const KIND: $crate::model::Kind = $crate::model::Kind::Struct(&$name::INFO);

            fn read(node: &$crate::source::Node) -> Option<Self> {
                let entries = node.as_mapping()?;
                let mut out = Self::default();
                for entry in entries {
                    let Some(key) = entry.key_text() else { continue };
                    match $crate::model::normalize_key(key).as_ref() {
                        $(
                            stringify!($field) => {
                                out.$field = $crate::model::Spanned::read_entry(entry);
                            }
                        )*
                        _ => {}
                    }
                }
                Some(out)
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                <Self as schemars::JsonSchema>::schema_name()
            }

            fn schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
                generator.subschema_for::<Self>()
            }
        }
    };
}
pub(crate) use section;
