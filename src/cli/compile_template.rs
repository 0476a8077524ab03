//! `kindling compile TEMPLATE`: render and compile every node (one with `--vars`/`--var`,
//! each inventory record with `--inventory`), report each finding once with its nodes, and
//! write only when every node compiles: `DIR` for one node, `DIR/<name>/` per inventory
//! node (a tree, or `config.ign` with `--target ignition`).
use std::process::ExitCode;

use super::compile::{CompileArgs, CompileTarget, options, write_atomically};
use super::emit;
use super::template_input::{Inputs, dollar_vars, print_findings};
use crate::diagnostic::Severity;
use crate::template::{NodeVars, Template};

/// What one node compiled to, kept until every node is known to be good.
enum Output {
    Tree(crate::plan::Plan, String),
    Ignition(String),
}

pub(super) fn run(args: &CompileArgs, template: &Template, inputs: &Inputs) -> ExitCode {
    print_findings(&inputs.validations, args.color);
    if inputs.failed {
        eprintln!("kindling: the variables have errors; nothing was written");
        return ExitCode::from(1);
    }
    let base = match options(args) {
        Ok(o) => o,
        Err(code) => return code,
    };
    let nodes = inputs.nodes();
    let results = crate::template::per_node(&nodes, |node: &NodeVars| {
        let mut options = base.clone();
        options.vars.extend(dollar_vars(node));
        let compiled = crate::compile::compile_node(template, node, &options);
        let output = compiled.plan.map(|plan| match args.target {
            CompileTarget::Ignition => Output::Ignition(crate::emit::ignition::render(&plan)),
            CompileTarget::Tree => {
                let manifest = compiled
                    .rendered
                    .as_ref()
                    .map(|r| crate::emit::manifest::render(&plan, r))
                    .unwrap_or_default();
                Output::Tree(plan, manifest)
            }
        });
        (compiled.findings, output)
    });
    let (findings, outputs): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    let validations = crate::validate::group(template, &nodes, findings);
    print_findings(&validations, args.color);
    let failing = if args.strict {
        Severity::Warning
    } else {
        Severity::Error
    };
    let failed = validations
        .iter()
        .flat_map(|v| &v.findings)
        .any(|f| f.severity >= failing);
    if failed || outputs.iter().any(Option::is_none) {
        eprintln!("kindling: {} not compiled; nothing was written", args.file);
        return ExitCode::from(1);
    }
    let per_node_dirs = inputs.records.is_some();
    let jobs: Vec<(std::path::PathBuf, Output)> = nodes
        .iter()
        .zip(outputs.into_iter().flatten())
        .map(|(node, output)| {
            let dir = match (&node.name, per_node_dirs) {
                (Some(name), true) => args.out.join(name),
                _ => args.out.clone(),
            };
            (dir, output)
        })
        .collect();
    let count = jobs.len();
    let errors = write_all(jobs);
    if let Some(err) = errors.first() {
        eprintln!("kindling: {err}");
        return ExitCode::from(2);
    }
    let what = match args.target {
        CompileTarget::Tree => "tree",
        CompileTarget::Ignition => "Ignition config",
    };
    if per_node_dirs {
        emit(&format!(
            "wrote {count} {what}{} to {}/<name>/\n",
            if count == 1 { "" } else { "s" },
            args.out.display()
        ))
    } else {
        emit(&format!("wrote one {what} to {}\n", args.out.display()))
    }
}

/// Write every node's output; Ignition configs on every core (each a small file), trees
/// one after the other (each tree writes on every core itself).
fn write_all(jobs: Vec<(std::path::PathBuf, Output)>) -> Vec<String> {
    let (trees, configs): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .partition(|(_, o)| matches!(o, Output::Tree(..)));
    let mut errors = Vec::new();
    for (dir, output) in trees {
        if let Output::Tree(plan, manifest) = output
            && let Err(err) = crate::emit::tree::write(&plan, &manifest, &dir)
        {
            errors.push(err.to_string());
        }
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .max(1);
    let chunk = configs.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = configs
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    let mut errors = Vec::new();
                    for (dir, output) in part {
                        if let Output::Ignition(config) = output {
                            let path = dir.join("config.ign");
                            if let Err(e) = write_atomically(&path, config.as_bytes()) {
                                errors.push(format!("cannot write {}: {e}", path.display()));
                            }
                        }
                    }
                    errors
                })
            })
            .collect();
        for h in handles {
            match h.join() {
                Ok(e) => errors.extend(e),
                Err(_) => errors.push("a writer thread failed (a bug in kindling)".to_string()),
            }
        }
    });
    errors
}
