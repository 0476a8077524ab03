//! `kindling-plan.json`: every file (path, type, mode, owner, size, sha256, effect, origin,
//! source line) and every action in order. Deterministic: same plan, same bytes.

use serde_json::{Value, json};
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

/// A JSON string literal.
fn q(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// Render the manifest of `plan`, whose spans point into `source`. Written directly (keys
/// in a fixed order, two-space indentation) rather than through a JSON tree: a manifest
/// lists thousands of files and this is on the compile path.
#[must_use]
pub fn render(plan: &Plan, source: &SourceFile) -> String {
    use std::fmt::Write;
    let line = |span: crate::diagnostic::Span| source.position(span.start).line;
    let reboot = plan
        .files
        .iter()
        .map(|f| f.effect)
        .chain(plan.actions.iter().map(|a| a.effect))
        .any(|e| e == crate::plan::Effect::RebootRequired);
    let mut out = String::with_capacity(256 + plan.files.len() * 320);
    out.push_str("{\n  \"format\": \"kindling-plan/1\",\n");
    let _ = writeln!(
        out,
        "  \"input_sha256\": \"{}\",",
        sha256(source.text.as_bytes())
    );
    let _ = writeln!(out, "  \"reboot_required\": {reboot},");
    out.push_str("  \"files\": [");
    for (i, f) in plan.files.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let _ = write!(out, "    {{\n      \"path\": {},\n", q(&f.path));
        match &f.content {
            Content::Bytes(bytes) => {
                let _ = write!(
                    out,
                    "      \"type\": \"file\",\n      \"mode\": \"{:04o}\",\n      \"owner\": {},\n      \"size\": {},\n      \"sha256\": \"{}\",\n",
                    f.mode,
                    q(f.owner.as_deref().unwrap_or("root:root")),
                    bytes.len(),
                    sha256(bytes)
                );
            }
            Content::Symlink(target) => {
                let _ = write!(
                    out,
                    "      \"type\": \"symlink\",\n      \"target\": {},\n",
                    q(target)
                );
            }
        }
        let _ = write!(
            out,
            "      \"effect\": \"{}\",\n      \"origin\": {},\n      \"line\": {}\n    }}",
            f.effect.as_str(),
            q(&f.origin),
            line(f.span)
        );
    }
    out.push_str(if plan.files.is_empty() {
        "],\n"
    } else {
        "\n  ],\n"
    });
    out.push_str("  \"actions\": [");
    for (i, a) in plan.actions.iter().enumerate() {
        out.push_str(if i == 0 { "\n" } else { ",\n" });
        let mut v = serde_json::to_value(&a.kind).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert("effect".into(), json!(a.effect.as_str()));
            m.insert("line".into(), json!(line(a.span)));
        }
        let text = serde_json::to_string_pretty(&v).unwrap_or_default();
        for (j, l) in text.lines().enumerate() {
            if j > 0 {
                out.push('\n');
            }
            out.push_str("    ");
            out.push_str(l);
        }
    }
    out.push_str(if plan.actions.is_empty() {
        "]\n}\n"
    } else {
        "\n  ]\n}\n"
    });
    out
}
