//! `kindling render`: one node's rendered config of a template, on standard output.
use std::process::ExitCode;

use super::template_input::{Input, Inputs, input, print_findings};
use super::{Color, emit, parse_var};
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

pub(super) fn run(args: &RenderArgs) -> ExitCode {
    let inputs = match Inputs::read(&args.var_files, args.inventory.as_deref(), &args.vars) {
        Ok(i) => i,
        Err(code) => return code,
    };
    print_findings(&inputs.validations, args.color);
    if inputs.failed {
        eprintln!("kindling: the variables have errors; nothing was rendered");
        return ExitCode::from(1);
    }
    let template = match input(&args.file) {
        Ok(Input::Template(t)) => t,
        Ok(Input::Plain(bytes)) => return emit(&String::from_utf8_lossy(&bytes)),
        Ok(Input::Broken(v)) => {
            print_findings(std::slice::from_ref(&v), args.color);
            return ExitCode::from(1);
        }
        Err(code) => return code,
    };
    let nodes = inputs.nodes();
    let node = match &args.node {
        Some(name) => match nodes.iter().find(|n| n.name.as_deref() == Some(name)) {
            Some(n) => n,
            None => {
                eprintln!("kindling: the inventory has no node named {name:?}");
                return ExitCode::from(2);
            }
        },
        None => match nodes.first() {
            Some(n) => n,
            None => return ExitCode::from(2),
        },
    };
    match template.render(&node.context(), &node.keys()) {
        Ok(text) => emit(&text),
        Err(located) => {
            let node = std::slice::from_ref(node);
            let validations = crate::validate::group(&template, node, vec![vec![*located]]);
            print_findings(&validations, args.color);
            let errors = validations
                .iter()
                .flat_map(|v| &v.findings)
                .any(|f| f.severity == Severity::Error);
            ExitCode::from(if errors { 1 } else { 0 })
        }
    }
}
