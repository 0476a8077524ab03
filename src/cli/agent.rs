//! `kindling agent run|status|check|reset`: the on-node update agent.
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use super::{DiffFormat, emit, open_root};
use crate::agent::pipeline::{Agent, Options, Outcome};
use crate::agent::run::{self, Request};
use crate::agent::state::Record;
use crate::agent::store::Store;

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
}

pub(super) fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("kindling: cannot start the async runtime: {e}");
            ExitCode::from(2)
        })
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

pub(super) fn run(args: &AgentArgs) -> ExitCode {
    match &args.command {
        AgentCommand::Run {
            node,
            once,
            reboot_command,
            health_timeout,
            reboot_wait,
        } => {
            let root = match open_root(&node.root) {
                Ok(r) => r,
                Err(code) => return code,
            };
            let options = Options {
                disk: node.disk.clone(),
                reboot_command: reboot_command
                    .clone()
                    .or_else(|| std::env::var("KINDLING_REBOOT_COMMAND").ok()),
                health_timeout: Some(std::time::Duration::from_secs(*health_timeout)),
                on_demand: *once,
            };
            let rt = match runtime() {
                Ok(rt) => rt,
                Err(code) => return code,
            };
            let wait = std::time::Duration::from_secs(*reboot_wait);
            let bar = if *once { progress_bar() } else { None };
            match rt.block_on(run::run(root, options, *once, wait, bar)) {
                Ok(Outcome::Failed(_)) => ExitCode::from(1),
                Ok(Outcome::NoUpdate(m)) => {
                    eprintln!("kindling agent: {m}");
                    ExitCode::SUCCESS
                }
                Ok(Outcome::Staged(_)) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("kindling agent: {e}");
                    ExitCode::from(2)
                }
            }
        }
        AgentCommand::Status { root, format } => {
            let root = match open_root(root) {
                Ok(r) => r,
                Err(code) => return code,
            };
            match read_record(&root) {
                Ok(record) => match format {
                    DiffFormat::Human => emit(&crate::agent::status::render(&record)),
                    DiffFormat::Json => {
                        let running = crate::machine::settings::Settings::read(&root)
                            .map(|s| s.version)
                            .unwrap_or_default();
                        emit(&crate::agent::status::render_json(&record, &running))
                    }
                },
                Err(e) => {
                    eprintln!("kindling: {e}");
                    ExitCode::from(2)
                }
            }
        }
        AgentCommand::Check { node } => match check(node) {
            Ok(Some(Outcome::Failed(m))) => {
                eprintln!("kindling agent: {m}");
                ExitCode::from(1)
            }
            Ok(Some(Outcome::NoUpdate(m))) => {
                eprintln!("kindling agent: {m}");
                ExitCode::SUCCESS
            }
            Ok(Some(Outcome::Staged(v))) => {
                eprintln!("kindling agent: {v} is staged; a reboot runs it");
                ExitCode::SUCCESS
            }
            Ok(None) => {
                eprintln!("kindling agent: the running agent checks now");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
        AgentCommand::Reset { node } => match reset(node) {
            Ok(m) => {
                eprintln!("kindling agent: {m}");
                ExitCode::SUCCESS
            }
            Err(code) => code,
        },
    }
}

/// The record of a root (a fresh one when the agent never ran).
pub(super) fn read_record(root: &crate::root::Root) -> Result<Record, String> {
    Store::reader(root)?.load().map(|(r, _)| r)
}

/// Ask the running agent to check, or check in this process. `Ok(None)`: the running agent
/// was asked.
pub(super) fn check(node: &NodeArgs) -> Result<Option<Outcome>, ExitCode> {
    let root = open_root(&node.root)?;
    let rt = runtime()?;
    rt.block_on(async {
        match run::send(&root, Request::Check).await {
            Ok(true) => return Ok(None),
            Ok(false) => {}
            Err(e) => {
                eprintln!("kindling agent: {e}");
                return Err(ExitCode::from(2));
            }
        }
        let options = Options {
            disk: node.disk.clone(),
            on_demand: true,
            ..Options::default()
        };
        let mut agent = match Agent::open(root, options) {
            Ok(Some(a)) => a,
            Ok(None) => {
                eprintln!(
                    "kindling agent: another agent holds {} but does not answer on its socket",
                    node.root.display()
                );
                return Err(ExitCode::from(2));
            }
            Err(e) => {
                eprintln!("kindling agent: {e}");
                return Err(ExitCode::from(2));
            }
        };
        agent.on_progress = progress_bar();
        if let Err(e) = agent.after_boot().await {
            eprintln!("kindling agent: {e}");
            return Err(ExitCode::from(2));
        }
        agent.cycle().await.map(Some).map_err(|e| {
            eprintln!("kindling agent: {e}");
            ExitCode::from(2)
        })
    })
}

/// Undo a staged update, through the running agent or in this process.
pub(super) fn reset(node: &NodeArgs) -> Result<String, ExitCode> {
    let root = open_root(&node.root)?;
    let rt = runtime()?;
    rt.block_on(async {
        match run::send(&root, Request::Reset).await {
            Ok(true) => return Ok("the running agent resets its status".to_string()),
            Ok(false) => {}
            Err(e) => {
                eprintln!("kindling agent: {e}");
                return Err(ExitCode::from(2));
            }
        }
        let options = Options {
            disk: node.disk.clone(),
            ..Options::default()
        };
        match Agent::open(root, options) {
            Ok(Some(mut agent)) => run::reset(&mut agent).map_err(|e| {
                eprintln!("kindling agent: {e}");
                ExitCode::from(2)
            }),
            Ok(None) => {
                eprintln!("kindling agent: another agent holds the root but does not answer");
                Err(ExitCode::from(2))
            }
            Err(e) => {
                eprintln!("kindling agent: {e}");
                Err(ExitCode::from(2))
            }
        }
    })
}
