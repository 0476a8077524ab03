//! `kindling apply`: converge a root to a config, or roll the last apply back.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::{Color, DiffFormat, emit, open_root, parse_var, plan_for_vars, use_color};

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The cloud-config (not needed with --rollback).
    #[arg(value_name = "FILE", required_unless_present_any = super::from::APPLY_UNLESS)]
    pub file: Option<String>,
    /// The root to converge (a directory laid out like the node's root, or /).
    #[arg(long, value_name = "DIR")]
    pub root: std::path::PathBuf,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Restore the root to before the last apply.
    #[arg(long, conflicts_with_all = ["dry_run", "file"])]
    pub rollback: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// A per-node value of $public_ipv4 and friends, or (for a template) any variable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variables for a template (`## template: jinja`), from a YAML or JSON file
    /// (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub var_files: Vec<String>,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
    /// Read user-data and metadata from datasources instead of FILE.
    #[command(flatten)]
    pub from: super::from::FromArgs,
}

pub(super) fn run(args: &ApplyArgs) -> ExitCode {
    if args.from.any() && !args.rollback {
        if args.file.is_some() {
            eprintln!("kindling: apply takes FILE or --from-... datasources, not both");
            return ExitCode::from(2);
        }
        return super::from::run(&super::from::Run {
            from: &args.from,
            root: &args.root,
            preview: false,
            dry_run: args.dry_run,
            format: args.format,
            color: args.color,
            exit_code: false,
        });
    }
    let root = match open_root(&args.root) {
        Ok(r) => r,
        Err(code) => return code,
    };
    if args.rollback {
        return match crate::apply::rollback(&root) {
            Ok(paths) => emit(&format!(
                "restored {} path(s) to before the last apply\n",
                paths.len()
            )),
            Err(err) => {
                eprintln!("kindling: {err}");
                ExitCode::from(2)
            }
        };
    }
    let Some(file) = &args.file else {
        eprintln!("kindling: apply needs a FILE");
        return ExitCode::from(2);
    };
    let plan = match plan_for_vars(file, &args.vars, &args.var_files, Some(&root), args.color) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match crate::apply::apply(&root, &plan, args.dry_run) {
        Ok(report) => {
            let text = match args.format {
                DiffFormat::Json => {
                    let mut t = serde_json::to_string_pretty(&report).unwrap_or_default();
                    t.push('\n');
                    t
                }
                DiffFormat::Human => {
                    let color = use_color(args.color, std::io::stdout().is_terminal());
                    let mut t = crate::diff::render(&report.diff, color);
                    if !args.dry_run {
                        t.push_str(&format!(
                            "wrote {} file(s), ran {} action(s)",
                            report.written,
                            report.ran.len()
                        ));
                        if !report.pending.is_empty() {
                            t.push_str(&format!(
                                ", {} pending ({} is not the running system)",
                                report.pending.len(),
                                root.path().display()
                            ));
                        }
                        if let Some(g) = &report.generation {
                            t.push_str(&format!(
                                "; generation {g} saved (kindling apply --rollback restores it)"
                            ));
                        }
                        t.push('\n');
                    }
                    t
                }
            };
            emit(&text)
        }
        Err(err) => {
            eprintln!("kindling: {err}");
            ExitCode::from(2)
        }
    }
}
