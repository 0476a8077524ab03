//! `kindling compile TEMPLATE`: render and compile every node (one with `--vars`/`--var`,
//! each inventory record with `--inventory`), report each finding once with its nodes, and
//! write only when every node compiles: `DIR` for one node, `DIR/<name>/` per inventory
//! node (a tree, or `config.ign` with `--target ignition`).
use std::process::ExitCode;

use super::args::failing;
use super::compile_args::{CompileArgs, CompileTarget, not_compiled, options, write_atomically};
use super::error::CliError;
use super::shared::write_out;
use super::template_input::{Inputs, dollar_vars, print_findings, usable_variables};
use crate::template::{NodeVars, Template};

/// What one node compiled to, kept until every node is known to be good.
enum Output {
    Tree(crate::plan::Plan, String),
    Ignition(String),
}

pub(super) fn run(
    args: &CompileArgs,
    template: &Template,
    inputs: &Inputs,
) -> Result<ExitCode, CliError> {
    usable_variables(inputs, args.color, "nothing was written")?;
    let nodes = inputs.nodes();
    let outputs = compile_nodes(args, template, &nodes)?;
    let per_node_dirs = inputs.records.is_some();
    let jobs: Vec<(std::path::PathBuf, Output)> = nodes
        .iter()
        .zip(outputs)
        .map(|(node, output)| {
            let dir = match (&node.name, per_node_dirs) {
                (Some(name), true) => args.out.join(name),
                _ => args.out.clone(),
            };
            (dir, output)
        })
        .collect();
    let count = jobs.len();
    let written: std::collections::BTreeSet<std::ffi::OsString> = jobs
        .iter()
        .filter_map(|(dir, _)| dir.file_name().map(std::ffi::OsStr::to_os_string))
        .collect();
    if let Some(err) = write_all(jobs).into_iter().next() {
        return Err(err);
    }
    let stale = if per_node_dirs {
        stale_folders(&args.out, &written)
    } else {
        Vec::new()
    };
    let what = match args.target {
        CompileTarget::Tree => "tree",
        CompileTarget::Ignition => "Ignition config",
    };
    if per_node_dirs {
        let mut text = format!(
            "wrote {count} {what}{} to {}/<name>/\n",
            if count == 1 { "" } else { "s" },
            args.out.display()
        );
        // Never removed: a folder of DIR that no node of this inventory wrote may be a
        // node dropped from the inventory, or something else entirely; it is named.
        for name in &stale {
            text.push_str(&format!(
                "left as it was: {}/ (no node of this inventory is named {}; from an earlier run?)\n",
                args.out.join(name).display(),
                name.to_string_lossy()
            ));
        }
        write_out(&text)
    } else {
        write_out(&format!("wrote one {what} to {}\n", args.out.display()))
    }
}

/// Compile every node and show the findings, each once with its nodes: every node's
/// output, or the error when any node fails.
fn compile_nodes(
    args: &CompileArgs,
    template: &Template,
    nodes: &[NodeVars],
) -> Result<Vec<Output>, CliError> {
    let base = options(args)?;
    let results = crate::template::per_node(nodes, |node: &NodeVars| {
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
    let validations = crate::validate::group(template, nodes, findings);
    print_findings(&validations, args.color);
    let failing = failing(args.strict);
    let failed = validations
        .iter()
        .flat_map(|v| &v.findings)
        .any(|f| f.severity >= failing);
    if failed || outputs.iter().any(Option::is_none) {
        return Err(not_compiled(&args.file));
    }
    Ok(outputs.into_iter().flatten().collect())
}

/// Write every node's output; Ignition configs on every core (each a small file), trees
/// one after the other (each tree writes on every core itself).
fn write_all(jobs: Vec<(std::path::PathBuf, Output)>) -> Vec<CliError> {
    let (trees, configs): (Vec<_>, Vec<_>) = jobs
        .into_iter()
        .partition(|(_, o)| matches!(o, Output::Tree(..)));
    let mut errors = Vec::new();
    for (dir, output) in trees {
        if let Output::Tree(plan, manifest) = output
            && let Err(err) = crate::emit::tree::write(&plan, &manifest, &dir)
        {
            errors.push(err.into());
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
                                errors.push(e);
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
                Err(_) => errors.push(CliError::Usage(
                    "a writer thread failed (a bug in kindling)".to_string(),
                )),
            }
        }
    });
    errors
}

/// The folders of `out` that this run did not write, sorted.
fn stale_folders(
    out: &std::path::Path,
    written: &std::collections::BTreeSet<std::ffi::OsString>,
) -> Vec<std::ffi::OsString> {
    let Ok(entries) = std::fs::read_dir(out) else {
        return Vec::new();
    };
    let mut stale: Vec<std::ffi::OsString> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.file_name())
        .filter(|name| !written.contains(name) && !name.to_string_lossy().starts_with('.'))
        .collect();
    stale.sort();
    stale
}
