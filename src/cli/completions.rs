//! `kindling completions SHELL`: the shell completion script, generated from the clap
//! definitions by `clap_complete`, so it never lags behind a flag. The package installs
//! the bash, zsh and fish scripts (`package_files`); anyone else sources the output.
use std::process::ExitCode;

use clap::CommandFactory;

use super::emit;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell (bash: `source <(kindling completions bash)`).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// The completion script of `shell` for the `kindling` command.
#[must_use]
pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kindling", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn run(args: &CompletionsArgs) -> ExitCode {
    emit(&script(args.shell))
}
