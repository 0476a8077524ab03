//! A template over many nodes: render and check each node (on every core), then report each
//! distinct finding once, with the nodes it occurs on.
//!
//! Two findings are the same when they have the same rule, severity, template position and
//! message (list indexes such as `units[3]` aside, so a loop body's finding is one finding
//! however often the loop runs): a typo in literal text or an undefined variable is one
//! finding `on 40 of 40 nodes`, while an expression that renders a bad value on some nodes
//! is one finding per distinct message (the message quotes the value), each with its nodes.

use std::collections::HashMap;
use std::sync::Arc;

use super::rendered::validate_rendered;
use super::validation::{Validation, validation_of};
use crate::diagnostic::{Finding, Nodes, Severity, Span};
use crate::template::{Located, NodeVars, Template, per_node};

/// Render and check one node; its findings point into the template's files.
#[must_use]
pub fn check_node(template: &Template, node: &NodeVars) -> Vec<Located> {
    let context = node.context();
    let keys = node.keys();
    match template.render(&context, &keys) {
        Err(located) => vec![*located],
        Ok(text) => {
            let name = template.source().name.clone();
            let mut v = validate_rendered(&name, text.clone().into_bytes());
            drop_given_dollar_vars(node, &mut v.findings);
            template.locate(v.findings, &text, &context)
        }
    }
}

/// `$private_ipv4` is no risk on a node whose variables give it a value (`compile`
/// substitutes it from them), so its warning goes. The rule's message starts with the
/// variable (`$private_ipv4 is empty on nodes ...`).
pub fn drop_given_dollar_vars(node: &NodeVars, findings: &mut Vec<Finding>) {
    findings.retain(|f| {
        f.rule.code != crate::rules::substitution_variable::RULE.code
            || !f
                .message
                .strip_prefix('$')
                .and_then(|rest| rest.split_once(' '))
                .is_some_and(|(var, _)| node.vars.contains_key(var))
    });
}

/// Render and check every node; one validation per file with findings (the template's
/// first, always present), each distinct finding once with its nodes.
#[must_use]
pub fn validate_fleet(template: &Template, nodes: &[NodeVars]) -> Vec<Validation> {
    let results = per_node(nodes, |node| check_node(template, node));
    group(template, nodes, results)
}

/// `coreos.units[3]` as `coreos.units[]`, for comparing messages.
fn without_indexes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..=open]);
        rest = &rest[open + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits > 0 && rest[digits..].starts_with(']') {
            rest = &rest[digits..];
        }
    }
    out.push_str(rest);
    out
}

/// Group per-node findings (in node order) into validations per file.
#[must_use]
pub fn group(
    template: &Template,
    nodes: &[NodeVars],
    results: Vec<Vec<Located>>,
) -> Vec<Validation> {
    type Key = (usize, Span, &'static str, Severity, String);
    let mut index: HashMap<Key, usize> = HashMap::new();
    let mut groups: Vec<(Located, Vec<String>, usize)> = Vec::new();
    for (node, located) in nodes.iter().zip(results) {
        for l in located {
            let key = (
                l.file,
                l.finding.span,
                l.finding.rule.code,
                l.finding.severity,
                without_indexes(&l.finding.message),
            );
            let i = *index.entry(key).or_insert_with(|| {
                groups.push((l, Vec::new(), 0));
                groups.len() - 1
            });
            let group = &mut groups[i];
            group.2 += 1;
            // Once per node, however often a loop repeats the finding on it.
            if let Some(name) = &node.name
                && group.1.last() != Some(name)
            {
                group.1.push(name.clone());
            }
        }
    }
    let files = template.files();
    let mut per_file: Vec<Vec<Finding>> = vec![Vec::new(); files.len()];
    for (located, names, _count) in groups {
        let Located {
            file,
            mut finding,
            included_at,
        } = located;
        let rendered = finding.nodes.take().and_then(|n| n.rendered);
        finding.nodes = Some(Box::new(Nodes {
            names,
            total: nodes.len(),
            rendered,
        }));
        if let Some(at) = included_at {
            let template_file = &files[0];
            finding.message = format!(
                "{} (in the file included at {}:{})",
                finding.message,
                template_file.name,
                template_file.position(at.start).line
            );
        }
        if let Some(list) = per_file.get_mut(file) {
            list.push(finding);
        }
    }
    files
        .iter()
        .zip(per_file)
        .enumerate()
        .filter(|(i, (_, f))| *i == 0 || !f.is_empty())
        .map(|(_, (source, mut findings))| {
            crate::diagnostic::sort(&mut findings);
            validation_of(Arc::unwrap_or_clone(Arc::clone(source)), findings)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn indexes_do_not_split_groups() {
        assert_eq!(
            super::without_indexes("unknown key in coreos.units[12]; [x] [3"),
            "unknown key in coreos.units[]; [x] [3"
        );
    }
}
