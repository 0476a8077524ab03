//! `kindling agent reboot-manager`: locksmithd's replacement for a node that keeps Flatcar's
//! update_engine (`crate::agent::reboot_manager`). Thin: parse, choose the bus, run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::error::CliError;
use super::shared::root_at;
use crate::agent::driver::Options;
use crate::agent::reboot_manager::ManagerOptions;

/// Arguments of `agent reboot-manager`.
#[derive(Debug, Clone, clap::Args)]
pub struct RebootManagerArgs {
    /// The node's root (a directory laid out like the node's root, or /).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The D-Bus to use (e.g. unix:path=/run/dbus/system_bus_socket); else
    /// DBUS_SYSTEM_BUS_ADDRESS; else the system bus, only when the root is /.
    #[arg(long, value_name = "ADDRESS")]
    pub bus: Option<String>,
    /// How long to wait at start for update_engine (com.coreos.update1) to be on the bus,
    /// in seconds, before failing.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub update_engine_wait: u64,
    /// How long the health check after the reboot may take, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    pub health_timeout: u64,
    /// The pause before trying again when the reboot lock cannot be reached or logind
    /// refused the reboot, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    pub retry: u64,
}

/// Run the reboot manager until it fails (or at once, with `REBOOT_STRATEGY=off`).
pub(super) fn run(args: &RebootManagerArgs) -> Result<ExitCode, CliError> {
    let root = root_at(&args.root)?;
    let bus = crate::bus::Choice::from_process(args.bus.as_deref(), root.is_host());
    let options = Options {
        health_timeout: Duration::from_secs(args.health_timeout),
        ..Options::default()
    };
    let manager = ManagerOptions {
        bus,
        update_engine_wait: Duration::from_secs(args.update_engine_wait),
        retry: Duration::from_secs(args.retry.max(1)),
    };
    // Its own runtime (not `agent`'s helper: `agent` names this file).
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(crate::agent::reboot_manager::run(root, options, manager))?;
    Ok(ExitCode::SUCCESS)
}
