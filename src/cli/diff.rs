//! `kindling diff`: what applying a config would change on a root, or NEW over OLD.
use std::io::IsTerminal;
use std::process::ExitCode;

use super::template_input::is_template_file;
use super::{
    Color, DiffFormat, emit, open_root, parse_var, plan_for_node, plan_for_vars, use_color,
};

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

pub(super) fn run(args: &DiffArgs) -> ExitCode {
    if args.from.any() {
        let (Some(root), true) = (&args.root, args.files.is_empty()) else {
            eprintln!("kindling: diff --from-... takes --root DIR and no FILE");
            return ExitCode::from(2);
        };
        return super::from::run(&super::from::Run {
            from: &args.from,
            root,
            preview: true,
            dry_run: true,
            format: args.format,
            color: args.color,
            exit_code: args.exit_code,
        });
    }
    let color = use_color(args.color, std::io::stdout().is_terminal());
    let result = match (&args.root, args.files.as_slice()) {
        (Some(root), [file]) => {
            let root = match open_root(root) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let plan =
                match plan_for_vars(file, &args.vars, &args.var_files, Some(&root), args.color) {
                    Ok(p) => p,
                    Err(code) => return code,
                };
            crate::apply::diff(&root, &plan).map_err(|e| e.to_string())
        }
        (None, [old, new]) => {
            // Template variables are for whichever side is a template.
            let any_template = is_template_file(old) || is_template_file(new);
            let old = match plan_for_node(
                old,
                &args.vars,
                &args.var_files,
                None,
                args.color,
                !any_template,
            ) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let new = match plan_for_node(
                new,
                &args.vars,
                &args.var_files,
                None,
                args.color,
                !any_template,
            ) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let paths: Vec<&str> = new.files.iter().map(|f| f.path.as_str()).collect();
            let now = crate::diff::now_from_plan(&old, &paths);
            let owner =
                |o: Option<&str>| crate::diff::Owner::Name(o.unwrap_or("root:root").to_string());
            let old_actions: Vec<&crate::plan::ActionKind> =
                old.actions.iter().map(|a| &a.kind).collect();
            let done = |k: &crate::plan::ActionKind| old_actions.contains(&k);
            Ok(crate::diff::compare(&new, &now, &owner, &done))
        }
        _ => {
            eprintln!("kindling: diff takes FILE --root DIR, or OLD NEW");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(d) => {
            let text = match args.format {
                DiffFormat::Human => crate::diff::render(&d, color),
                DiffFormat::Json => crate::diff::render_json(&d),
            };
            let written = emit(&text);
            if written != ExitCode::SUCCESS {
                written
            } else if args.exit_code && !d.is_empty() {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(message) => {
            eprintln!("kindling: {message}");
            ExitCode::from(2)
        }
    }
}
