//! The command line: parses arguments with clap and runs one subcommand.
//!
//! Exit statuses: 0 clean, 1 the input has errors (or warnings under `--strict`), 2
//! usage or I/O problems. Reports go to standard output, problems running the command
//! to standard error.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Severity;
use crate::report;

/// kindling: compile, lint, preview and apply #cloud-config for CoreOS-style fleets.
#[derive(Debug, Parser)]
#[command(name = "kindling", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check cloud-configs and report every mistake with its exact position.
    Validate(ValidateArgs),
    /// Compile a cloud-config into the files and actions a node needs.
    Compile(CompileArgs),
    /// Show what applying a config would change on a root, or what NEW changes over OLD.
    Diff(DiffArgs),
    /// Converge a root directory to a config: atomic, confined, convergent.
    Apply(ApplyArgs),
    /// Print the JSON Schema of the cloud-config dialect.
    Schema,
    /// Explain a diagnostic code (e.g. `structure::unknown-key`), or list them all.
    Explain {
        /// The code, with or without the `kindling::` prefix.
        code: Option<String>,
    },
}

/// Arguments of `validate`.
#[derive(Debug, clap::Args)]
pub struct ValidateArgs {
    /// Files to check; `-` reads standard input.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Fail on warnings too.
    #[arg(long)]
    pub strict: bool,
    /// When to use colour in the human format.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

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
    /// A per-node value of $public_ipv4, $private_ipv4, $public_ipv6 or $private_ipv6.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
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

/// Arguments of `diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// FILE (with --root), or OLD NEW.
    #[arg(required = true, num_args = 1..=2, value_name = "FILE")]
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
    /// A per-node value of $public_ipv4 and friends.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Formats of `diff` and `apply` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// A unified diff and a summary line.
    Human,
    /// JSON.
    Json,
}

/// Arguments of `apply`.
#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// The cloud-config (not needed with --rollback).
    #[arg(value_name = "FILE", required_unless_present = "rollback")]
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
    /// A per-node value of $public_ipv4 and friends.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// When to use colour.
    #[arg(long, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

/// Targets of `compile`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompileTarget {
    /// A directory laid out like the node's root, with kindling-plan.json.
    Tree,
    /// DIR/config.ign, an Ignition spec 3.3.0 config.
    Ignition,
}

fn parse_var(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=VALUE"))?;
    let name = name.trim_start_matches('$');
    if !crate::compile::VARIABLES.contains(&name) {
        return Err(format!(
            "{name:?} is not a variable; use one of {}",
            crate::compile::VARIABLES.join(", ")
        ));
    }
    if value.contains(['\n', '\r']) {
        return Err("a variable's value cannot contain a line break".into());
    }
    Ok((name.to_string(), value.to_string()))
}

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette reports for people.
    Human,
    /// A JSON array of findings.
    Json,
    /// SARIF 2.1.0, for code scanning.
    Sarif,
    /// GitHub Actions workflow commands (annotations).
    Github,
}

/// Colour choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// Colour when standard output is a terminal.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// Run the command line; returns the process's exit status.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Validate(args) => validate(&args),
        Command::Compile(args) => compile(&args),
        Command::Diff(args) => diff(&args),
        Command::Apply(args) => apply(&args),
        Command::Schema => emit(&crate::schema::render()),
        Command::Explain { code } => explain(code.as_deref()),
    }
}

fn emit(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`kindling ... | head`) is not worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kindling: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

fn validate(args: &ValidateArgs) -> ExitCode {
    let mut results = Vec::with_capacity(args.files.len());
    let mut io_failed = false;
    for name in &args.files {
        match crate::source::read(name) {
            Ok(bytes) => results.push(crate::validate(name, bytes)),
            Err(err) => {
                eprintln!("kindling: {err}");
                io_failed = true;
            }
        }
    }
    let text = match args.format {
        Format::Json => report::json::render(&results),
        Format::Sarif => report::sarif::render(&results),
        Format::Github => report::github::render(&results),
        Format::Human => {
            let color = match args.color {
                Color::Always => true,
                Color::Never => false,
                Color::Auto => {
                    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
                }
            };
            report::human::render(&results, report::human::Style { color, width: 100 })
        }
    };
    let written = emit(&text);
    if io_failed || written != ExitCode::SUCCESS {
        return ExitCode::from(2);
    }
    let threshold = if args.strict {
        Severity::Warning
    } else {
        Severity::Error
    };
    if results.iter().any(|r| r.has(threshold)) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

fn use_color(choice: Color, stream_is_terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

fn compile(args: &CompileArgs) -> ExitCode {
    let bytes = match crate::source::read(&args.file) {
        Ok(bytes) => bytes,
        Err(err) => {
            eprintln!("kindling: {err}");
            return ExitCode::from(2);
        }
    };
    let base = match &args.base_update_conf {
        Some(path) => match crate::source::read(&path.to_string_lossy()) {
            Ok(bytes) => Some(String::from_utf8_lossy(&bytes).into_owned()),
            Err(err) => {
                eprintln!("kindling: {err}");
                return ExitCode::from(2);
            }
        },
        None => None,
    };
    let options = crate::compile::Options {
        target: match args.target {
            CompileTarget::Tree => crate::compile::Target::Tree,
            CompileTarget::Ignition => crate::compile::Target::Ignition,
        },
        vars: args.vars.iter().cloned().collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
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

/// Write a file through a temporary file in the same directory and a rename, so a reader
/// sees the old or the new file, never half of one. (A build artifact: not fsynced.)
fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
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

/// Compile `file` for a node (update.conf merged with the root's own, when there is a root);
/// prints findings to standard error. `Err` is the exit status to return.
fn plan_for(
    file: &str,
    vars: &[(String, String)],
    root: Option<&crate::root::Root>,
    color: Color,
) -> Result<crate::plan::Plan, ExitCode> {
    let bytes = crate::source::read(file).map_err(|err| {
        eprintln!("kindling: {err}");
        ExitCode::from(2)
    })?;
    let base = root.and_then(|r| {
        ["/etc/coreos/update.conf", "/usr/share/coreos/update.conf"]
            .iter()
            .find_map(|p| match r.observe(p) {
                Ok(crate::root::Observed::File { bytes, .. }) => {
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => None,
            })
    });
    let options = crate::compile::Options {
        target: crate::compile::Target::Tree,
        vars: vars.iter().cloned().collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
    };
    let compiled = crate::compile::compile(file, bytes, &options);
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    for finding in compiled
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        eprint!(
            "{}",
            report::human::render_finding(&compiled.validation.source, finding, style)
        );
        eprintln!();
    }
    compiled.plan.ok_or_else(|| {
        eprintln!("kindling: {file} has errors; nothing to compare or apply");
        ExitCode::from(1)
    })
}

fn open_root(path: &std::path::Path) -> Result<crate::root::Root, ExitCode> {
    crate::root::Root::new(path).map_err(|err| {
        eprintln!("kindling: {err}");
        ExitCode::from(2)
    })
}

fn diff(args: &DiffArgs) -> ExitCode {
    let color = use_color(args.color, std::io::stdout().is_terminal());
    let result = match (&args.root, args.files.as_slice()) {
        (Some(root), [file]) => {
            let root = match open_root(root) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let plan = match plan_for(file, &args.vars, Some(&root), args.color) {
                Ok(p) => p,
                Err(code) => return code,
            };
            crate::apply::diff(&root, &plan).map_err(|e| e.to_string())
        }
        (None, [old, new]) => {
            let old = match plan_for(old, &args.vars, None, args.color) {
                Ok(p) => p,
                Err(code) => return code,
            };
            let new = match plan_for(new, &args.vars, None, args.color) {
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

fn apply(args: &ApplyArgs) -> ExitCode {
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
    let plan = match plan_for(file, &args.vars, Some(&root), args.color) {
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

fn explain(code: Option<&str>) -> ExitCode {
    let Some(code) = code else {
        let mut list = String::new();
        for rule in crate::rules::ALL {
            list.push_str(&format!(
                "{:<44} {:<7} {}\n",
                rule.code,
                rule.severity.as_str(),
                rule.summary
            ));
        }
        return emit(&list);
    };
    match crate::rules::find(code) {
        Some(rule) => emit(&crate::rules::book_page(rule)),
        None => {
            eprintln!("kindling: no diagnostic code {code:?}; `kindling explain` lists them all");
            ExitCode::from(2)
        }
    }
}
