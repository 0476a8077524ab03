//! `kindling-plan.json`: every file (path, type, mode, owner, size, sha256, effect, origin,
//! source line) and every action in order. Deterministic: same plan, same bytes.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::plan::{Content, Plan};
use crate::source::SourceFile;

/// The manifest's file name in a tree.
pub const FILE_NAME: &str = "kindling-plan.json";

/// Hex SHA-256 of bytes.
#[must_use]
pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Render the manifest of `plan`, whose spans point into `source`.
#[must_use]
pub fn render(plan: &Plan, source: &SourceFile) -> String {
    let line = |span: crate::diagnostic::Span| source.position(span.start).line;
    let files: Vec<Value> = plan
        .files
        .iter()
        .map(|f| {
            let mut m = Map::new();
            m.insert("path".into(), json!(f.path));
            match &f.content {
                Content::Bytes(bytes) => {
                    m.insert("type".into(), json!("file"));
                    m.insert("mode".into(), json!(format!("{:04o}", f.mode)));
                    m.insert(
                        "owner".into(),
                        json!(f.owner.as_deref().unwrap_or("root:root")),
                    );
                    m.insert("size".into(), json!(bytes.len()));
                    m.insert("sha256".into(), json!(sha256(bytes)));
                }
                Content::Symlink(target) => {
                    m.insert("type".into(), json!("symlink"));
                    m.insert("target".into(), json!(target));
                }
            }
            m.insert("effect".into(), json!(f.effect.as_str()));
            m.insert("origin".into(), json!(f.origin));
            m.insert("line".into(), json!(line(f.span)));
            Value::Object(m)
        })
        .collect();
    let actions: Vec<Value> = plan
        .actions
        .iter()
        .map(|a| {
            let mut v = serde_json::to_value(&a.kind).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("effect".into(), json!(a.effect.as_str()));
                m.insert("line".into(), json!(line(a.span)));
            }
            v
        })
        .collect();
    let reboot = plan
        .files
        .iter()
        .map(|f| f.effect)
        .chain(plan.actions.iter().map(|a| a.effect))
        .any(|e| e == crate::plan::Effect::RebootRequired);
    let doc = json!({
        "format": "kindling-plan/1",
        "input_sha256": sha256(source.text.as_bytes()),
        "reboot_required": reboot,
        "files": files,
        "actions": actions,
    });
    let mut text = serde_json::to_string_pretty(&doc).unwrap_or_default();
    text.push('\n');
    text
}
