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
