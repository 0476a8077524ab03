//! Helpers every command uses: writing a report to standard output, deciding colour (the one
//! place), and opening a root. Each returns [`CliError`]; [`emit`] is the `ExitCode` form of
//! [`write_out`] for commands that end by printing.

use std::io::Write;
use std::process::ExitCode;

use super::args::Color;
use super::error::{CliError, finish};
use crate::root::Root;

/// Write `text` to standard output. A closed pipe (`kindling ... | head`) is not a failure.
///
/// # Errors
/// Standard output cannot be written.
pub(crate) fn write_out(text: &str) -> Result<ExitCode, CliError> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ExitCode::SUCCESS),
        Err(e) => Err(CliError::Usage(format!("cannot write output: {e}"))),
    }
}

/// [`write_out`] as an exit status (the message printed).
pub(crate) fn emit(text: &str) -> ExitCode {
    finish(write_out(text))
}

/// Whether to colour a stream: the choice, and for `auto` whether the stream is a terminal
/// and `NO_COLOR` is unset.
pub(crate) fn use_color(choice: Color, stream_is_terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// The root at `path`.
///
/// # Errors
/// It cannot be opened.
pub(crate) fn root_at(path: &std::path::Path) -> Result<Root, CliError> {
    Ok(Root::new(path)?)
}
