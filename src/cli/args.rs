//! The command line's shared vocabulary: the value types several commands take (`--format`,
//! `--color`), `--var NAME=VALUE`'s parser, the flag groups several commands flatten in
//! (`#[command(flatten)]`), and the arguments of the commands that document the command
//! tree itself (`completions`, `package-files`), so that the tree (`command`) and those
//! commands do not name each other.

use std::path::PathBuf;

use clap::ValueEnum;

use crate::diagnostic::Severity;

/// Formats of `diff` and `apply` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// A unified diff and a summary line.
    Human,
    /// JSON.
    Json,
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

/// `--var NAME=VALUE`: one flag for both kinds of per-node value. The names
/// `public_ipv4`, `private_ipv4`, `public_ipv6` and `private_ipv6` fill coreos-cloudinit's
/// `$` substitution (and are template variables too); any other name is a template
/// variable, refused for a plain config (see `template_input::plain_vars`).
///
/// # Errors
/// What is wrong with the argument (clap shows it).
pub(crate) fn parse_var(text: &str) -> Result<(String, String), crate::template::vars::VarError> {
    crate::template::vars::parse_var(text)
}

/// The least severity that fails a command (`--strict`: warnings too).
pub(crate) fn failing(strict: bool) -> Severity {
    if strict {
        Severity::Warning
    } else {
        Severity::Error
    }
}

/// `--var`, `--vars` and `--color` of the commands that plan a config for one node on a
/// root or against another config (`diff`, `apply`).
#[derive(Debug, clap::Args)]
pub struct NodeVarArgs {
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
}

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell (bash: `source <(kindling completions bash)`).
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `package-files`.
#[derive(Debug, clap::Args)]
pub struct PackageFilesArgs {
    /// The directory to write the tree into (absent, empty, or an earlier output).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// kindling's path on the installed system, as the units call it.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/kindling")]
    pub bin: String,
}

/// The bounds of a kindling HTTP server (`update-server`, `lock serve`), flattened into
/// each server command; the defaults are [`crate::http_serve::Limits::default`]'s.
#[derive(Debug, Clone, clap::Args)]
pub struct ServerLimitArgs {
    /// Open connections at most; past it the longest-quiet idle connection is closed.
    #[arg(long, value_name = "N", default_value_t = crate::http_serve::Limits::default().max_connections)]
    pub max_connections: usize,
    /// A request head must arrive whole within this (also the keep-alive idle limit).
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub header_timeout: std::time::Duration,
    /// A connection on which nothing moves for this long, while no request is handled, is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub idle_timeout: std::time::Duration,
    /// A request body must arrive whole within this.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = parse_duration)]
    pub body_timeout: std::time::Duration,
    /// A request body at most, in bytes (the protocol's own limit applies too).
    #[arg(long, value_name = "BYTES", default_value_t = crate::http_serve::Limits::default().max_body_bytes)]
    pub max_body_bytes: usize,
}

impl ServerLimitArgs {
    /// The limits these flags give.
    #[must_use]
    pub fn limits(&self) -> crate::http_serve::Limits {
        crate::http_serve::Limits {
            header_read_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            body_timeout: self.body_timeout,
            max_connections: self.max_connections.max(1),
            max_body_bytes: self.max_body_bytes,
            ..crate::http_serve::Limits::default()
        }
    }
}

/// A duration as `10s`, `500ms`, `2m` (humantime), above zero.
fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    match humantime::parse_duration(text) {
        Ok(d) if !d.is_zero() => Ok(d),
        Ok(_) => Err("a duration above zero is needed".into()),
        Err(e) => Err(format!("{e} (e.g. 10s, 500ms, 2m)")),
    }
}
