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

use super::{Located, Node, Template};
use crate::Validation;
use crate::compile::{Compiled, Options};
use crate::diagnostic::{Finding, Nodes, Severity, Span};
use crate::plan::Plan;
use crate::source::SourceFile;

/// Render and check one node; its findings point into the template's files.
#[must_use]
pub fn check_node(template: &Template, node: &Node) -> Vec<Located> {
    let context = node.context();
    let keys = node.keys();
    match template.render(&context, &keys) {
        Err(located) => vec![*located],
        Ok(text) => {
            let name = template.source().name.clone();
            let mut v = crate::validate_rendered(&name, text.clone().into_bytes());
            drop_given_dollar_vars(node, &mut v.findings);
            template.locate(v.findings, &text, &context)
        }
    }
}

/// `$private_ipv4` is no risk on a node whose variables give it a value (`compile`
/// substitutes it from them), so its warning goes.
fn drop_given_dollar_vars(node: &Node, findings: &mut Vec<Finding>) {
    findings.retain(|f| {
        f.rule.code != crate::rules::substitution_variable::RULE.code
            || !crate::compile::VARIABLES.iter().any(|var| {
                node.vars.contains_key(*var) && f.message.starts_with(&format!("${var} "))
            })
    });
}

/// What compiling one node produced.
#[derive(Debug)]
pub struct NodeCompiled {
    /// The rendered config (when the render succeeded), for the manifest.
    pub rendered: Option<SourceFile>,
    /// Every finding, pointing into the template's files.
    pub findings: Vec<Located>,
    /// The plan, when nothing stops it.
    pub plan: Option<Plan>,
}

/// Render one node and compile what it renders (`$public_ipv4` and friends are substituted
/// after rendering, from `options.vars`).
#[must_use]
pub fn compile_node(template: &Template, node: &Node, options: &Options) -> NodeCompiled {
    let context = node.context();
    let keys = node.keys();
    let text = match template.render(&context, &keys) {
        Ok(text) => text,
        Err(located) => {
            return NodeCompiled {
                rendered: None,
                findings: vec![*located],
                plan: None,
            };
        }
    };
    let name = template.source().name.clone();
    let Compiled {
        validation,
        mut findings,
        plan,
    } = crate::compile::compile_rendered(&name, text.clone().into_bytes(), options);
    // Findings about the `$`-substituted text are already moved back onto `text` (and
    // `validation` is the validation of `text`): they locate like every other finding.
    drop_given_dollar_vars(node, &mut findings);
    let located = template.locate(findings, &text, &context);
    NodeCompiled {
        rendered: Some(validation.source),
        findings: located,
        plan,
    }
}

/// Each node's findings, worked out on up to `available_parallelism` threads.
pub(crate) fn per_node<T: Send>(nodes: &[Node], work: impl Fn(&Node) -> T + Sync) -> Vec<T> {
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .min(nodes.len().div_ceil(16))
        .max(1);
    if threads == 1 {
        return nodes.iter().map(&work).collect();
    }
    let chunk = nodes.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = nodes
            .chunks(chunk)
            .map(|part| {
                let work = &work;
                scope.spawn(move || part.iter().map(work).collect::<Vec<T>>())
            })
            .collect();
        handles
            .into_iter()
            // A worker only panics through a bug; lose its nodes' results rather than
            // take the whole run down, and say so.
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
}

/// Render and check every node; one validation per file with findings (the template's
/// first, always present), each distinct finding once with its nodes.
#[must_use]
pub fn validate_fleet(template: &Template, nodes: &[Node]) -> Vec<Validation> {
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
pub fn group(template: &Template, nodes: &[Node], results: Vec<Vec<Located>>) -> Vec<Validation> {
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
            super::vars::validation_of(Arc::unwrap_or_clone(Arc::clone(source)), findings)
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
