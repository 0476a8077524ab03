//! `kindling apply`: converge a root to a config, or roll the last apply back.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::{DiffFormat, NodeVarArgs};
use super::diff::node_input;
use super::error::CliError;
use super::node_plan::plan_node;
use super::shared::{root_at, use_color, write_out};

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
    /// `--var`, `--vars`, `--color`.
    #[command(flatten)]
    pub node: NodeVarArgs,
    /// Read user-data and metadata from datasources instead of FILE.
    #[command(flatten)]
    pub from: super::from::FromArgs,
}

pub(super) fn run(args: &ApplyArgs) -> Result<ExitCode, CliError> {
    if args.from.any() && !args.rollback {
        if args.file.is_some() {
            return Err(CliError::Usage(
                "apply takes FILE or --from-... datasources, not both".into(),
            ));
        }
        return super::from::run(&super::from::Run {
            from: &args.from,
            root: &args.root,
            preview: false,
            dry_run: args.dry_run,
            format: args.format,
            color: args.node.color,
            exit_code: false,
        });
    }
    let root = root_at(&args.root)?;
    if args.rollback {
        let paths = crate::apply::rollback(&root)?;
        return write_out(&format!(
            "restored {} path(s) to before the last apply\n",
            paths.len()
        ));
    }
    let Some(file) = &args.file else {
        return Err(CliError::Usage("apply needs a FILE".into()));
    };
    let plan = plan_node(&node_input(&args.node, file, Some(&root), true))?;
    let report = crate::apply::apply(&root, &plan, args.dry_run)?;
    let text = match args.format {
        DiffFormat::Json => {
            let mut t = serde_json::to_string_pretty(&report).unwrap_or_default();
            t.push('\n');
            t
        }
        DiffFormat::Human => human(args, &root, &report),
    };
    write_out(&text)
}

/// The human report: the diff, then (unless a dry run) what was written, ran, is pending and
/// was saved.
fn human(args: &ApplyArgs, root: &crate::root::Root, report: &crate::apply::Report) -> String {
    let color = use_color(args.node.color, std::io::stdout().is_terminal());
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
