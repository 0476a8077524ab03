//! A config planned for one node, as `diff`, `apply` and `fleet` need it: a template is
//! rendered with the node's variables first, a plain config refuses template-only
//! variables; findings go to standard error, and update.conf is merged with the root's own
//! when there is a root.

use super::args::Color;
use super::error::CliError;
use super::template_input::{
    Input, Inputs, dollar_vars, input, plain_vars, print_findings, print_findings_of,
    usable_variables,
};
use crate::plan::Plan;
use crate::root::Root;
use crate::template::NodeVars;

/// What a command plans from: the config, the node's variables, the root.
pub(crate) struct NodeInput<'a> {
    /// The config (plain or a template); `-` is standard input.
    pub file: &'a str,
    /// `--var` pairs.
    pub vars: &'a [(String, String)],
    /// `--vars` files.
    pub var_files: &'a [String],
    /// `--inventory FILE --node NAME`: the node's record of an inventory.
    pub inventory: Option<(&'a str, &'a str)>,
    /// The root whose update.conf the plan merges with.
    pub root: Option<&'a Root>,
    /// Colour for findings.
    pub color: Color,
    /// Whether template-only variables are an error for a plain config (not on the plain
    /// side of `diff OLD NEW` when the other side is a template).
    pub refuse_unused: bool,
}

/// The plan of `node.file` for the node; findings printed to standard error.
///
/// # Errors
/// The inputs cannot be read, the variables or the config have errors (shown).
pub(crate) fn plan_node(node: &NodeInput<'_>) -> Result<Plan, CliError> {
    let inputs = Inputs::read(node.var_files, node.inventory.map(|(f, _)| f), node.vars)?;
    let bytes = match input(node.file)? {
        Input::Plain(bytes) => {
            if node.refuse_unused {
                plain_vars(node.file, &inputs)?;
            }
            bytes
        }
        Input::Broken(v) => {
            print_findings(std::slice::from_ref(&v), node.color);
            return Err(has_errors(node.file));
        }
        Input::Template(t) => return plan_template(node, &t, &inputs),
    };
    let mut options = compile_options(node);
    if !node.refuse_unused {
        // The plain side of `diff OLD TEMPLATE`: the same node's `$` values as the template's.
        options.vars.extend(dollar_vars(&chosen(node, &inputs)?));
    }
    let mut compiled = crate::compile::compile(node.file, bytes, &options);
    // `$private_ipv4` given a value is no risk (as for a template's node).
    compiled.findings.retain(|f| {
        f.rule.code != crate::rules::substitution_variable::RULE.code
            || !f
                .message
                .strip_prefix('$')
                .and_then(|rest| rest.split_once(' '))
                .is_some_and(|(var, _)| options.vars.contains_key(var))
    });
    print_findings_of(&compiled.validation.source, &compiled.findings, node.color);
    compiled.plan.ok_or_else(|| has_errors(node.file))
}

/// A template's plan for the one node its variables make.
fn plan_template(
    node: &NodeInput<'_>,
    template: &crate::template::Template,
    inputs: &Inputs,
) -> Result<Plan, CliError> {
    usable_variables(inputs, node.color, "nothing to compare or apply")?;
    let one = chosen(node, inputs)?;
    let mut options = compile_options(node);
    options.vars.extend(dollar_vars(&one));
    let compiled = crate::compile::compile_node(template, &one, &options);
    let validations = crate::validate::group(
        template,
        std::slice::from_ref(&one),
        vec![compiled.findings],
    );
    print_findings(&validations, node.color);
    compiled.plan.ok_or_else(|| has_errors(node.file))
}

/// The node to plan for: `--node NAME`'s inventory record, else the one node the variables
/// make.
fn chosen(node: &NodeInput<'_>, inputs: &Inputs) -> Result<NodeVars, CliError> {
    let mut nodes = inputs.nodes();
    match node.inventory {
        Some((_, name)) => nodes
            .into_iter()
            .find(|n| n.name.as_deref() == Some(name))
            .ok_or_else(|| CliError::Usage(format!("the inventory has no node named {name:?}"))),
        None if nodes.is_empty() => Err(CliError::Usage("the inventory has no nodes".into())),
        None => Ok(nodes.swap_remove(0)),
    }
}

fn has_errors(file: &str) -> CliError {
    CliError::Failed(format!("{file} has errors; nothing to compare or apply"))
}

/// Tree compile options for a node: `$` variables from `vars`, and update.conf merged with
/// the root's own when there is a root.
fn compile_options(node: &NodeInput<'_>) -> crate::compile::Options {
    let base = node.root.and_then(|r| {
        ["/etc/coreos/update.conf", "/usr/share/coreos/update.conf"]
            .iter()
            .find_map(|p| match r.observe(p) {
                Ok(crate::root::Observed::File { bytes, .. }) => {
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => None,
            })
    });
    crate::compile::Options {
        target: crate::compile::Target::Tree,
        vars: node
            .vars
            .iter()
            .filter(|(k, _)| crate::compile::VARIABLES.contains(&k.as_str()))
            .cloned()
            .collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
    }
}
