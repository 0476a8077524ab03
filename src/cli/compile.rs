//! `kindling compile`: a checked config to a tree (with its manifest) or an Ignition config.
use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use super::template_input::{Input, Inputs, input, plain_vars};
use super::{Color, emit, parse_var, use_color};
use crate::diagnostic::Severity;
use crate::report;

/// Arguments of `compile`.
#[derive(Debug, clap::Args)]
pub struct CompileArgs {
    /// The cloud-config; `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Where to write: a directory (created; replaced when kindling made it).
    #[arg(long, value_name = "DIR")]
    pub out: std::path::PathBuf,
    /// What to write: a tree laid out like the node's root, or an Ignition config.
    #[arg(long, value_enum, default_value_t = CompileTarget::Tree)]
    pub target: CompileTarget,
    /// A per-node value: $public_ipv4, $private_ipv4, $public_ipv6, $private_ipv6, or
    /// (for a template) any template variable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variables for a template, from a YAML or JSON file (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub var_files: Vec<String>,
    /// Compile a template for every node of this inventory, into DIR/<name>/.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<String>,
    /// The node's current update.conf, to merge the config's keys into.
    #[arg(long, value_name = "FILE")]
    pub base_update_conf: Option<std::path::PathBuf>,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// When to use colour for findings.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Targets of `compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompileTarget {
    /// A directory laid out like the node's root, with kindling-plan.json.
    Tree,
    /// DIR/config.ign, an Ignition spec 3.3.0 config.
    Ignition,
}

pub(super) fn run(args: &CompileArgs) -> ExitCode {
    let inputs = match Inputs::read(&args.var_files, args.inventory.as_deref(), &args.vars) {
        Ok(i) => i,
        Err(code) => return code,
    };
    let bytes = match input(&args.file) {
        Ok(Input::Plain(bytes)) => {
            if let Err(code) = plain_vars(&args.file, &inputs) {
                return code;
            }
            bytes
        }
        Ok(Input::Broken(v)) => {
            super::template_input::print_findings(std::slice::from_ref(&v), args.color);
            eprintln!("kindling: {} not compiled; nothing was written", args.file);
            return ExitCode::from(1);
        }
        Ok(Input::Template(t)) => return super::compile_template::run(args, &t, &inputs),
        Err(code) => return code,
    };
    let options = match options(args) {
        Ok(o) => o,
        Err(code) => return code,
    };
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
    let failing = if args.strict {
        Severity::Warning
    } else {
        Severity::Error
    };
    let Some(plan) = compiled
        .plan
        .filter(|_| !compiled.findings.iter().any(|f| f.severity >= failing))
    else {
        eprintln!("kindling: {} not compiled; nothing was written", args.file);
        return ExitCode::from(1);
    };
    match args.target {
        CompileTarget::Tree => {
            let manifest = crate::emit::manifest::render(&plan, &compiled.validation.source);
            match crate::emit::tree::write(&plan, &manifest, &args.out) {
                Ok(count) => emit(&format!(
                    "wrote {count} files and {} actions to {}\n",
                    plan.actions.len(),
                    args.out.display()
                )),
                Err(err) => {
                    eprintln!("kindling: {err}");
                    ExitCode::from(2)
                }
            }
        }
        CompileTarget::Ignition => {
            let config = crate::emit::ignition::render(&plan);
            let path = args.out.join("config.ign");
            match write_atomically(&path, config.as_bytes()) {
                Ok(()) => emit(&format!("wrote {}\n", path.display())),
                Err(err) => {
                    eprintln!("kindling: cannot write {}: {err}", path.display());
                    ExitCode::from(2)
                }
            }
        }
    }
}

/// The compile options of `args` (`--var` values of `$public_ipv4` and friends included).
/// `Err` is exit status 2 (the base update.conf cannot be read).
pub(super) fn options(args: &CompileArgs) -> Result<crate::compile::Options, ExitCode> {
    let base = match &args.base_update_conf {
        Some(path) => match crate::source::read(&path.to_string_lossy()) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) => {
                eprintln!("kindling: {err}");
                return Err(ExitCode::from(2));
            }
        },
        None => None,
    };
    Ok(crate::compile::Options {
        target: match args.target {
            CompileTarget::Tree => crate::compile::Target::Tree,
            CompileTarget::Ignition => crate::compile::Target::Ignition,
        },
        vars: args.vars.iter().cloned().collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
    })
}

/// Write a file through a temporary file in the same directory and a rename, so a reader
/// sees the old or the new file, never half of one. (A build artifact: not fsynced.)
pub(super) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    tmp.write_all(bytes)?;
    // NamedTempFile creates 0600; the config is not a secret of kindling's.
    std::fs::set_permissions(
        tmp.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
