//! SARIF 2.1.0: one run, the whole rule catalogue with its help, and one result per
//! finding with its rule, level and physical location. Columns are Unicode code points,
//! as the run's `columnKind` says. GitHub code scanning reads this format.

use serde_json::{Value, json};

use crate::diagnostic::{Rule, Severity};
use crate::validate::Validation;

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

fn rule(rule: &Rule) -> Value {
    json!({
        "id": rule.code,
        "name": rule.slug().replace('/', "-"),
        "shortDescription": { "text": rule.summary },
        "fullDescription": { "text": rule.explanation },
        "help": {
            "text": rule.help,
            "markdown": crate::rules::book_page(rule),
        },
        "helpUri": format!("book/src/{}", rule.doc_path()),
        "defaultConfiguration": { "level": level(rule.severity) },
    })
}

/// Render every finding of every validation as one SARIF log.
#[must_use]
pub fn render(results: &[Validation]) -> String {
    let rules: Vec<&Rule> = crate::rules::ALL.to_vec();
    let index = |code: &str| rules.iter().position(|r| r.code == code);
    let mut out = Vec::new();
    for v in results {
        for f in &v.findings {
            let start = v.source.position(f.span.start);
            let end = v.source.position(f.span.end);
            let mut result = json!({
                "ruleId": f.rule.code,
                "level": level(f.severity),
                "message": { "text": format!("{} ({})", f.full_message(), f.help_text()) },
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": { "uri": v.source.name },
                        "region": {
                            "startLine": start.line,
                            "startColumn": start.column,
                            "endLine": end.line,
                            "endColumn": end.column,
                        }
                    }
                }],
            });
            if let (Some(i), Value::Object(m)) = (index(f.rule.code), &mut result) {
                m.insert("ruleIndex".into(), json!(i));
            }
            // A rendered template's finding: the nodes it occurs on, as a property bag.
            if let (Some(n), Value::Object(m)) = (&f.nodes, &mut result) {
                let mut bag = json!({ "nodes": n.names, "nodesTotal": n.total });
                if let (Some(v), Value::Object(b)) = (&n.rendered, &mut bag) {
                    b.insert("rendered".into(), json!(v));
                }
                m.insert("properties".into(), bag);
            }
            out.push(result);
        }
    }
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "kindling",
                    "version": env!("CARGO_PKG_VERSION"),
                    "rules": rules.iter().map(|r| rule(r)).collect::<Vec<_>>(),
                }
            },
            "columnKind": "unicodeCodePoints",
            "results": out,
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}
