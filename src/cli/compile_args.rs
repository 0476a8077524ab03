//! `kindling compile`'s arguments and what its two paths (a config, a template's nodes)
//! share: the compile options and writing a file atomically.

use std::io::Write;

use super::args::{Color, parse_var};
use super::error::CliError;

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
    /// A per-node value: $public_ipv4, $private_ipv4, $public_ipv6, $private_ipv6, or
    /// (for a template) any template variable.
    #[arg(long = "var", value_name = "NAME=VALUE", value_parser = parse_var)]
    pub vars: Vec<(String, String)>,
    /// Variables for a template, from a YAML or JSON file (repeatable; later files win).
    #[arg(long = "vars", value_name = "FILE")]
    pub var_files: Vec<String>,
    /// Compile a template for every node of this inventory, into DIR/<name>/.
    #[arg(long, value_name = "FILE")]
    pub inventory: Option<String>,
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CompileTarget {
    /// A directory laid out like the node's root, with kindling-plan.json.
    Tree,
    /// DIR/config.ign, an Ignition spec 3.3.0 config.
    Ignition,
}

/// The compile options of `args` (`--var` values of `$public_ipv4` and friends included).
///
/// # Errors
/// The base update.conf cannot be read.
pub(super) fn options(args: &CompileArgs) -> Result<crate::compile::Options, CliError> {
    let base = match &args.base_update_conf {
        Some(path) => {
            let bytes = crate::source::read(&path.to_string_lossy())?;
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        None => None,
    };
    Ok(crate::compile::Options {
        target: match args.target {
            CompileTarget::Tree => crate::compile::Target::Tree,
            CompileTarget::Ignition => crate::compile::Target::Ignition,
        },
        vars: args.vars.iter().cloned().collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
    })
}

/// Write a file through a temporary file in the same directory and a rename, so a reader
/// sees the old or the new file, never half of one. (A build artifact: not fsynced.)
///
/// # Errors
/// `cannot write PATH: ...`.
pub(super) fn write_atomically(path: &std::path::Path, bytes: &[u8]) -> Result<(), CliError> {
    write_through_temporary(path, bytes)
        .map_err(|err| CliError::Usage(format!("cannot write {}: {err}", path.display())))
}

fn write_through_temporary(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
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

/// `FILE not compiled; nothing was written`, status 1.
pub(super) fn not_compiled(file: &str) -> CliError {
    CliError::Failed(format!("{file} not compiled; nothing was written"))
}
