//! The documents generated from the clap definitions besides completions: the book's
//! command-line reference (`book/src/cli.md`, kept current by a drift test) and the man
//! pages (`clap_mangen`, one per visible command, installed by the package).
//!
//! Both render from [`documented`]: the visible commands only, and environment variables
//! named without their current values, so the output depends on the code alone, never on
//! the environment of whoever generates it.
use clap::{Command, CommandFactory};

use super::command::Cli;

/// The book page's path in the repository.
pub const PAGE: &str = "book/src/cli.md";

/// The clap command tree as documents show it: built (usage lines carry the full command
/// path), no `help` subcommand, and `[env: NAME]` without the variable's present value.
#[must_use]
pub fn documented() -> Command {
    fn hide_values(cmd: Command) -> Command {
        let cmd = cmd.mut_args(|a| a.hide_env_values(true));
        let names: Vec<String> = cmd
            .get_subcommands()
            .map(|s| s.get_name().to_string())
            .collect();
        names
            .into_iter()
            .fold(cmd, |cmd, name| cmd.mut_subcommand(name, hide_values))
    }
    let mut cmd = hide_values(Cli::command().disable_help_subcommand(true));
    cmd.build();
    cmd
}

/// Every visible command, depth first, parents before children.
fn visible(cmd: &Command) -> Vec<&Command> {
    let mut out = vec![cmd];
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        out.extend(visible(sub));
    }
    out
}

/// The command-line reference page of the book.
#[must_use]
pub fn reference_page() -> String {
    let root = documented();
    let mut page = String::from(
        "# Command-line reference\n\n\
<!-- Generated from the clap definitions (kindling::cli::reference::reference_page); \
tests/generated.rs fails when it drifts; UPDATE_GENERATED=1 rewrites it. -->\n\n\
Every command and flag, exactly as `kindling COMMAND --help` prints them. The same \
definitions generate the shell completions (`kindling completions bash|zsh|fish`) and the \
man pages the package installs (`man kindling-agent-run`).\n\n\
Installed under the names `update_engine_client`, `locksmithctl` or `coreos-cloudinit` \
(the package makes these symlinks), kindling answers with those tools' own flags \
(`update_engine_client -status`, `locksmithctl status`, `coreos-cloudinit \
--from-file=...`); see the agent, lock and boot-time apply pages.\n",
    );
    for cmd in visible(&root) {
        let name = cmd.get_bin_name().unwrap_or(cmd.get_name());
        let help = cmd.clone().render_long_help().to_string();
        page.push_str(&format!(
            "\n## `{name}`\n\n```text\n{}\n```\n",
            help.trim_end()
        ));
    }
    page
}

/// The man pages, as (file name, roff text): `kindling.1`, `kindling-agent.1`,
/// `kindling-agent-run.1`, ... for every visible command.
///
/// # Errors
/// Never in practice: rendering writes into memory.
pub fn man_pages() -> std::io::Result<Vec<(String, Vec<u8>)>> {
    let root = documented();
    let mut out = Vec::new();
    for cmd in visible(&root) {
        let man = clap_mangen::Man::new(cmd.clone())
            .source(concat!("kindling ", env!("CARGO_PKG_VERSION")))
            .manual("kindling");
        let mut text = Vec::new();
        man.render(&mut text)?;
        out.push((man.get_filename(), text));
    }
    Ok(out)
}
