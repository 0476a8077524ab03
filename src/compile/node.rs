//! One node of a template compiled: render it with the node's variables, compile what it
//! rendered, and point every finding back into the template's files.

use super::input::compile_rendered;
use super::options::{Compiled, Options};
use crate::plan::Plan;
use crate::source::SourceFile;
use crate::template::{Located, NodeVars, Template};
use crate::validate::drop_given_dollar_vars;

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
pub fn compile_node(template: &Template, node: &NodeVars, options: &Options) -> NodeCompiled {
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
    } = compile_rendered(&name, text.clone().into_bytes(), options);
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
