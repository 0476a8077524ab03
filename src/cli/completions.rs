//! `kindling completions SHELL`: the shell completion script, generated from the clap
//! definitions by `clap_complete`, so it never lags behind a flag. The package installs
//! the bash, zsh and fish scripts (`package_files`); anyone else sources the output.
//!
//! clap_complete's generators offer hidden subcommands too (clap-rs/clap#1335), and clap's
//! `Command` cannot remove a subcommand, so the scripts are generated from a copy of the
//! command tree re-assembled without the hidden ones (`visible`), never by editing the
//! generated text.
use std::process::ExitCode;

use clap::CommandFactory;

use super::args::CompletionsArgs;
use super::command::Cli;
use super::error::CliError;
use super::shared::write_out;

/// `cmd` without its hidden subcommands, at every depth. A command with no hidden
/// subcommand is kept as it is; one with some is re-assembled from its name, texts, version,
/// arguments, groups, the settings that decide what a shell may complete after it, and its
/// visible subcommands (the usage and help templates, which no completion shows, are left).
fn visible(cmd: &clap::Command) -> clap::Command {
    if !has_hidden(cmd) {
        return cmd.clone();
    }
    let mut out = clap::Command::new(cmd.get_name().to_string())
        .visible_aliases(cmd.get_visible_aliases().map(str::to_string))
        .hide(cmd.is_hide_set())
        .subcommand_required(cmd.is_subcommand_required_set())
        .arg_required_else_help(cmd.is_arg_required_else_help_set())
        .args_conflicts_with_subcommands(cmd.is_args_conflicts_with_subcommands_set())
        .disable_help_subcommand(cmd.is_disable_help_subcommand_set())
        .disable_help_flag(cmd.is_disable_help_flag_set())
        .disable_version_flag(cmd.is_disable_version_flag_set())
        .propagate_version(cmd.is_propagate_version_set())
        .args(cmd.get_arguments().cloned())
        .groups(cmd.get_groups().cloned())
        .subcommands(
            cmd.get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(visible),
        );
    if let Some(about) = cmd.get_about() {
        out = out.about(about.clone());
    }
    if let Some(about) = cmd.get_long_about() {
        out = out.long_about(about.clone());
    }
    if let Some(version) = cmd.get_version() {
        out = out.version(version.to_string());
    }
    if let Some(version) = cmd.get_long_version() {
        out = out.long_version(version.to_string());
    }
    if let Some(bin) = cmd.get_bin_name() {
        out = out.bin_name(bin.to_string());
    }
    out
}

/// Whether `cmd` has a hidden subcommand at any depth.
fn has_hidden(cmd: &clap::Command) -> bool {
    cmd.get_subcommands()
        .any(|s| s.is_hide_set() || has_hidden(s))
}

/// The completion script of `shell` for the `kindling` command: every visible command,
/// none of the hidden ones (`package-files` and `payload` are the package's and the
/// agent's, not a user's).
#[must_use]
pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = visible(&Cli::command());
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "kindling", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}

pub(super) fn run(args: &CompletionsArgs) -> Result<ExitCode, CliError> {
    write_out(&script(args.shell))
}
