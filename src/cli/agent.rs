//! `kindling agent run|status|check|reset` (and `reboot-manager`, in its own file): the
//! on-node update agent. Thin: each command
//! parses, calls the agent (`crate::agent`) and says what it ended in. The agent's own
//! failures are said the way the agent says its lines (`kindling agent: `), exit status 2.
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use super::args::DiffFormat;
use super::error::CliError;
use super::shared::{emit, root_at};
use crate::agent::driver::{Options, Outcome};
use crate::agent::on_demand;
use crate::agent::record_file::RecordFile;
use crate::agent::state::Record;
use crate::root::Root;

/// Arguments of `agent`.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: AgentCommand,
}

/// Where the agent works.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeArgs {
    /// The node's root (a directory laid out like the node's root, or /).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// The disk (or disk image) holding the USR-A/USR-B slots; found from the booted
    /// PARTUUID when not given.
    #[arg(long, value_name = "IMG")]
    pub disk: Option<PathBuf>,
}

/// The agent's subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum AgentCommand {
    /// Run the agent: after-boot step, then update checks on schedule, reboots by strategy.
    Run {
        /// Where.
        #[command(flatten)]
        node: NodeArgs,
        /// The after-boot step, one update cycle right away, the reboot by strategy; then exit.
        #[arg(long)]
        once: bool,
        /// What a reboot is (run with /bin/sh -c; also `KINDLING_REBOOT_COMMAND`);
        /// `systemctl reboot` when the root is /.
        #[arg(long, value_name = "CMD")]
        reboot_command: Option<String>,
        /// How long the health check may take, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 300)]
        health_timeout: u64,
        /// With --once: how long to wait for the reboot window and lock, in seconds, before
        /// exiting with the update still staged.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        reboot_wait: u64,
        /// Serve update_engine's D-Bus interface (com.coreos.update1) on this bus, e.g.
        /// unix:path=/run/dbus/system_bus_socket. Default: DBUS_SYSTEM_BUS_ADDRESS, else the
        /// system bus when the root is /, else no bus.
        #[arg(long, value_name = "ADDRESS")]
        bus: Option<String>,
    },
    /// Print the agent's status (update_engine_client -status's lines, or JSON).
    Status {
        /// The node's root.
        #[arg(long, value_name = "DIR", default_value = "/")]
        root: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
        format: DiffFormat,
    },
    /// Check for an update now (through the running agent, or in this process when none runs).
    Check {
        /// Where.
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Undo a staged update that has not been rebooted into (update_engine_client -reset_status).
    Reset {
        /// Where.
        #[command(flatten)]
        node: NodeArgs,
    },
    /// Replace locksmithd on a node that keeps update_engine: reboot by strategy (window,
    /// lock) when update_engine says a reboot is needed, through logind.
    RebootManager(super::reboot_manager::RebootManagerArgs),
}

/// A current-thread tokio runtime for a command.
pub(super) fn tokio_runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))
}

/// A progress bar on a terminal (payload's), nothing elsewhere.
fn progress_bar() -> Option<Box<dyn FnMut(u64, u64) + Send>> {
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let mut bar: Option<indicatif::ProgressBar> = None;
    Some(Box::new(move |done, total| {
        let b = bar.get_or_insert_with(|| crate::payload::terminal_bar(total));
        b.set_position(done);
        if done >= total {
            b.finish_and_clear();
        }
    }))
}

pub(super) fn run(args: &AgentArgs) -> Result<ExitCode, CliError> {
    match &args.command {
        AgentCommand::Run {
            node,
            once,
            reboot_command,
            health_timeout,
            reboot_wait,
            bus,
        } => {
            let options = Options {
                disk: node.disk.clone(),
                reboot_command: reboot_command
                    .clone()
                    .or_else(|| std::env::var("KINDLING_REBOOT_COMMAND").ok()),
                health_timeout: std::time::Duration::from_secs(*health_timeout),
                on_demand: *once,
                bus: crate::bus::Choice::from_process(
                    bus.as_deref(),
                    node.root == std::path::Path::new("/"),
                ),
            };
            daemon(&node.root, options, *once, *reboot_wait)
        }
        AgentCommand::Status { root, format } => status(root, *format),
        AgentCommand::Check { node } => {
            let said = match check(node)? {
                Some(Outcome::Failed(m)) => {
                    eprintln!("kindling agent: {m}");
                    return Ok(ExitCode::from(1));
                }
                Some(Outcome::NoUpdate(m)) => m,
                Some(Outcome::Staged(v)) => format!("{v} is staged; a reboot runs it"),
                None => "the running agent checks now".to_string(),
            };
            eprintln!("kindling agent: {said}");
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::Reset { node } => {
            eprintln!("kindling agent: {}", reset(node)?);
            Ok(ExitCode::SUCCESS)
        }
        AgentCommand::RebootManager(args) => super::reboot_manager::run(args),
    }
}

/// `agent run`: the daemon (or, with `once`, one start and one cycle).
fn daemon(
    root: &std::path::Path,
    options: Options,
    once: bool,
    reboot_wait: u64,
) -> Result<ExitCode, CliError> {
    let root = root_at(root)?;
    let rt = tokio_runtime()?;
    let wait = std::time::Duration::from_secs(reboot_wait);
    let bar = if once { progress_bar() } else { None };
    match rt.block_on(crate::agent::run::run(root, options, once, wait, bar)) {
        Ok(Outcome::Failed(_)) => Ok(ExitCode::from(1)),
        Ok(Outcome::NoUpdate(m)) => {
            eprintln!("kindling agent: {m}");
            Ok(ExitCode::SUCCESS)
        }
        Ok(Outcome::Staged(_)) => Ok(ExitCode::SUCCESS),
        Err(e) => Err(e.into()),
    }
}

/// `agent status`: update_engine_client's lines, or JSON.
fn status(root: &std::path::Path, format: DiffFormat) -> Result<ExitCode, CliError> {
    let root_dir = root;
    let root = root_at(root)?;
    let ran = !matches!(
        root.observe(crate::agent::record_file::RECORD),
        Ok(crate::root::Observed::Missing)
    );
    if !ran && !crate::machine::settings::is_node(&root) {
        return Err(CliError::Failed(format!(
            "{} is not a CoreOS or Flatcar node: it has none of {} and the agent never ran \
             there (no {}); pass --root with a node's root",
            root_dir.display(),
            crate::machine::settings::FILES.join(", "),
            crate::agent::record_file::RECORD
        )));
    }
    let record = read_record(&root).map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(match format {
        DiffFormat::Human => emit(&crate::agent::status::render(&record)),
        DiffFormat::Json => {
            let running = crate::machine::settings::Settings::read(&root)
                .map(|s| s.version)
                .unwrap_or_default();
            emit(&crate::agent::status::render_json(&record, &running))
        }
    })
}

/// The record of a root (a fresh one when the agent never ran).
pub(super) fn read_record(root: &Root) -> Result<Record, crate::agent::Error> {
    RecordFile::reader(root)?.load().map(|(r, _)| r)
}

/// Ask the running agent to check, or check in this process. `Ok(None)`: the running agent
/// was asked.
pub(super) fn check(node: &NodeArgs) -> Result<Option<Outcome>, CliError> {
    let root = root_at(&node.root)?;
    let options = Options {
        disk: node.disk.clone(),
        on_demand: true,
        ..Options::default()
    };
    let check = on_demand::check(root, &node.root, options, progress_bar());
    tokio_runtime()?.block_on(check).map_err(CliError::from)
}

/// Undo a staged update, through the running agent or in this process.
pub(super) fn reset(node: &NodeArgs) -> Result<String, CliError> {
    let root = root_at(&node.root)?;
    let options = Options {
        disk: node.disk.clone(),
        ..Options::default()
    };
    tokio_runtime()?
        .block_on(on_demand::reset(root, options))
        .map_err(CliError::from)
}
