//! `kindling diff`: what applying a config would change on a root, or NEW over OLD.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::args::{DiffFormat, NodeVarArgs};
use super::error::{CliError, Status};
use super::node_plan::{NodeInput, plan_node};
use super::shared::{root_at, use_color, write_out};
use super::template_input::is_template_file;

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// FILE (with --root), or OLD NEW.
    #[arg(required_unless_present_any = super::from::SOURCE_IDS, num_args = 1..=2, value_name = "FILE")]
    pub files: Vec<String>,
    /// The root to compare with (a directory laid out like the node's root, or /).
    #[arg(long, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
    /// Exit 1 when there is a difference.
    #[arg(long)]
    pub exit_code: bool,
    /// `--var`, `--vars`, `--color`.
    #[command(flatten)]
    pub node: NodeVarArgs,
    /// Read user-data and metadata from datasources instead of FILE.
    #[command(flatten)]
    pub from: super::from::FromArgs,
}

pub(super) fn run(args: &DiffArgs) -> Result<ExitCode, CliError> {
    if args.from.any() {
        let (Some(root), true) = (&args.root, args.files.is_empty()) else {
            return Err(CliError::Usage(
                "diff --from-... takes --root DIR and no FILE".into(),
            ));
        };
        return super::from::run(&super::from::Run {
            from: &args.from,
            root,
            preview: true,
            dry_run: true,
            format: args.format,
            color: args.node.color,
            exit_code: args.exit_code,
        });
    }
    let color = use_color(args.node.color, std::io::stdout().is_terminal());
    let d = match (&args.root, args.files.as_slice()) {
        (Some(root), [file]) => {
            let root = root_at(root)?;
            let plan = plan_node(&node_input(&args.node, file, Some(&root), true))?;
            crate::apply::diff(&root, &plan)?
        }
        (None, [old, new]) => compare(&args.node, old, new)?,
        _ => {
            return Err(CliError::Usage(
                "diff takes FILE --root DIR, or OLD NEW".into(),
            ));
        }
    };
    let text = match args.format {
        DiffFormat::Human => crate::diff::render(&d, color),
        DiffFormat::Json => crate::diff::render_json(&d),
    };
    write_out(&text)?;
    if args.exit_code && !d.is_empty() {
        Err(CliError::Shown(Status::Failed))
    } else {
        Ok(ExitCode::SUCCESS)
    }
}

/// What `file` plans for the node `args` describe.
pub(super) fn node_input<'a>(
    args: &'a NodeVarArgs,
    file: &'a str,
    root: Option<&'a crate::root::Root>,
    refuse_unused: bool,
) -> NodeInput<'a> {
    NodeInput {
        file,
        vars: &args.vars,
        var_files: &args.var_files,
        inventory: args.inventory.as_deref().zip(args.node.as_deref()),
        root,
        color: args.color,
        refuse_unused,
    }
}

/// NEW's changes over OLD (both planned for the same node).
fn compare(args: &NodeVarArgs, old: &str, new: &str) -> Result<crate::diff::Diff, CliError> {
    // Template variables are for whichever side is a template.
    let any_template = is_template_file(old) || is_template_file(new);
    let old = plan_node(&node_input(args, old, None, !any_template))?;
    let new = plan_node(&node_input(args, new, None, !any_template))?;
    let paths: Vec<&str> = new.files.iter().map(|f| f.path.as_str()).collect();
    let now = crate::diff::now_from_plan(&old, &paths);
    let owner = |o: Option<&str>| crate::diff::Owner::Name(o.unwrap_or("root:root").to_string());
    let old_actions: Vec<&crate::plan::ActionKind> = old.actions.iter().map(|a| &a.kind).collect();
    let done = |k: &crate::plan::ActionKind| old_actions.contains(&k);
    Ok(crate::diff::compare(&new, &now, &owner, &done))
}
