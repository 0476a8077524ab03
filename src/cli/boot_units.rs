//! `kindling boot-units --root DIR`: install the systemd units and udev rules that run
//! `kindling apply --from-...` at boot (`datasource::boot_units`), through the applier:
//! atomic, convergent (a second run writes nothing), with `systemctl --root enable` and a
//! generation `kindling apply --rollback` restores.

use std::process::ExitCode;

use super::error::CliError;
use super::from::summary;
use super::shared::emit;
use crate::root::Root;

/// Arguments of `boot-units`.
#[derive(Debug, clap::Args)]
pub struct BootUnitsArgs {
    /// The root to install into (an image's root directory, or /).
    #[arg(long, value_name = "DIR")]
    pub root: std::path::PathBuf,
    /// kindling's path on that root, as the units call it.
    #[arg(long, value_name = "PATH", default_value = "/usr/bin/kindling")]
    pub bin: String,
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

pub(super) fn run(args: &BootUnitsArgs) -> Result<ExitCode, CliError> {
    if !args.bin.starts_with('/') || args.bin.contains(char::is_whitespace) {
        return Err(CliError::Usage(format!(
            "--bin {:?} must be an absolute path without spaces",
            args.bin
        )));
    }
    let root = Root::new(&args.root).map_err(|e| CliError::Usage(e.to_string()))?;
    let plan = crate::datasource::boot_units::plan(&args.bin);
    let report = crate::apply::apply(&root, &plan, args.dry_run)?;
    let mut text = crate::diff::render(&report.diff, false);
    if !args.dry_run {
        text.push_str(&summary(&report, None));
    }
    Ok(emit(&text))
}
