//! The JSON Schema of the input, generated from the model with schemars.
//!
//! schemars describes the Rust structs; this module adds what the YAML dialect allows on
//! top: every key containing `_` may also be written with `-` (both are listed), and the
//! document gets an `$id`, a title and a description. The result is committed as
//! `schema/cloud-config.json` and a test fails when it drifts.

use serde_json::{Map, Value};

use crate::model::CloudConfig;

/// Where the schema is committed, relative to the repository root.
pub const PATH: &str = "schema/cloud-config.json";

/// The schema as a JSON value.
#[must_use]
pub fn generate() -> Value {
    let generator = schemars::generate::SchemaSettings::draft2020_12().into_generator();
    let schema = generator.into_root_schema_for::<CloudConfig>();
    let mut value = schema.to_value();
    add_hyphen_aliases(&mut value);
    if let Value::Object(root) = &mut value {
        root.insert(
            "$id".into(),
            Value::String("https://kindling.dev/schema/cloud-config.json".into()),
        );
        root.insert(
            "title".into(),
            Value::String("kindling #cloud-config".into()),
        );
        root.insert(
            "description".into(),
            Value::String(
                "The coreos-cloudinit #cloud-config dialect as kindling reads it. Keys may be written with - or _. Keys marked x-kindling-extension are kindling extensions.".into(),
            ),
        );
    }
    value
}

/// The schema as committed: pretty JSON with a trailing newline.
#[must_use]
pub fn render() -> String {
    let mut text = serde_json::to_string_pretty(&generate()).unwrap_or_default();
    text.push('\n');
    text
}

fn add_hyphen_aliases(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::Object(props)) = map.get_mut("properties") {
                let mut extended = Map::new();
                for (key, schema) in std::mem::take(props) {
                    if key.contains('_') {
                        extended.insert(key.replace('_', "-"), schema.clone());
                    }
                    extended.insert(key, schema);
                }
                *props = extended;
            }
            for child in map.values_mut() {
                add_hyphen_aliases(child);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(add_hyphen_aliases),
        _ => {}
    }
}
