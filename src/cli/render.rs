//! `kindling render`: one node's rendered config of a template, on standard output.
use std::process::ExitCode;

use super::args::{Color, parse_var};
use super::error::{CliError, Status};
use super::shared::write_out;
use super::template_input::{Input, Inputs, input, print_findings, usable_variables};
use crate::diagnostic::Severity;

/// Arguments of `render`.
#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// The template (`## template: jinja` first line); `-` reads standard input. A file
    /// without the header is printed unchanged.
    #[arg(value_name = "TEMPLATE")]
    pub file: String,
    /// Variables from a YAML or JSON file (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub var_files: Vec<String>,
    /// A variable (repeatable; wins over files and the inventory).
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// An inventory (YAML/JSON list or CSV); with --node, render that node's record.
    #[arg(long, value_name = "FILE", requires = "node")]
    pub inventory: Option<String>,
    /// The inventory record to render.
    #[arg(long, value_name = "NAME", requires = "inventory")]
    pub node: Option<String>,
    /// When to use colour for findings.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

pub(super) fn run(args: &RenderArgs) -> Result<ExitCode, CliError> {
    let inputs = Inputs::read(&args.var_files, args.inventory.as_deref(), &args.vars)?;
    usable_variables(&inputs, args.color, "nothing was rendered")?;
    let template = match input(&args.file)? {
        Input::Template(t) => t,
        Input::Plain(bytes) => return write_out(&String::from_utf8_lossy(&bytes)),
        Input::Broken(v) => {
            print_findings(std::slice::from_ref(&v), args.color);
            return Err(CliError::Shown(Status::Failed));
        }
    };
    let nodes = inputs.nodes();
    let node = match &args.node {
        Some(name) => nodes
            .iter()
            .find(|n| n.name.as_deref() == Some(name))
            .ok_or_else(|| CliError::Usage(format!("the inventory has no node named {name:?}")))?,
        None => nodes.first().ok_or(CliError::Shown(Status::Usage))?,
    };
    match template.render(&node.context(), &node.keys()) {
        Ok(text) => write_out(&text),
        Err(located) => {
            let node = std::slice::from_ref(node);
            let validations = crate::validate::group(&template, node, vec![vec![*located]]);
            print_findings(&validations, args.color);
            let errors = validations
                .iter()
                .flat_map(|v| &v.findings)
                .any(|f| f.severity == Severity::Error);
            if errors {
                Err(CliError::Shown(Status::Failed))
            } else {
                Ok(ExitCode::SUCCESS)
            }
        }
    }
}
