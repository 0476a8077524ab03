//! `kindling compile`: a checked config to a tree (with its manifest) or an Ignition config;
//! a template goes to `compile_template`, node by node.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::failing;
use super::compile_args::{CompileArgs, CompileTarget, not_compiled, options, write_atomically};
use super::error::CliError;
use super::shared::{use_color, write_out};
use super::template_input::{Input, Inputs, input, plain_vars, print_findings};
use crate::report;

pub(super) fn run(args: &CompileArgs) -> Result<ExitCode, CliError> {
    let inputs = Inputs::read(&args.var_files, args.inventory.as_deref(), &args.vars)?;
    let bytes = match input(&args.file)? {
        Input::Plain(bytes) => {
            plain_vars(&args.file, &inputs)?;
            bytes
        }
        Input::Broken(v) => {
            print_findings(std::slice::from_ref(&v), args.color);
            return Err(not_compiled(&args.file));
        }
        Input::Template(t) => return super::compile_template::run(args, &t, &inputs),
    };
    let options = options(args)?;
    let compiled = crate::compile::compile(&args.file, bytes, &options);
    let style = report::human::Style {
        color: use_color(args.color, std::io::stderr().is_terminal()),
        width: 100,
    };
    for finding in &compiled.findings {
        eprint!(
            "{}",
            report::human::render_finding(&compiled.validation.source, finding, style)
        );
        eprintln!();
    }
    let failing = failing(args.strict);
    let Some(plan) = compiled
        .plan
        .filter(|_| !compiled.findings.iter().any(|f| f.severity >= failing))
    else {
        return Err(not_compiled(&args.file));
    };
    match args.target {
        CompileTarget::Tree => {
            let manifest = crate::emit::manifest::render(&plan, &compiled.validation.source);
            let count = crate::emit::tree::write(&plan, &manifest, &args.out)?;
            write_out(&format!(
                "wrote {count} files and {} actions to {}\n",
                plan.actions.len(),
                args.out.display()
            ))
        }
        CompileTarget::Ignition => {
            let config = crate::emit::ignition::render(&plan);
            let path = args.out.join("config.ign");
            write_atomically(&path, config.as_bytes())?;
            write_out(&format!("wrote {}\n", path.display()))
        }
    }
}
