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

/// Output formats of `validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// miette reports for people.
    Human,
    /// A JSON array of findings.
    Json,
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
