//! `kindling validate`: check configs and report every finding (human, JSON, SARIF, GitHub).
use std::io::IsTerminal;
use std::process::ExitCode;

use super::{Color, Format, emit};
use crate::diagnostic::Severity;
use crate::report;

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

pub(super) fn run(args: &ValidateArgs) -> ExitCode {
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
