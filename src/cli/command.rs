//! The command tree: [`Cli`] and its subcommands, each naming the arguments its command
//! file defines. Parsing only; `cli::run` dispatches.

use clap::{Parser, Subcommand};

use super::agent::AgentArgs;
use super::apply::ApplyArgs;
use super::args::{CompletionsArgs, PackageFilesArgs};
use super::boot_units::BootUnitsArgs;
use super::compile_args::CompileArgs;
use super::diff::DiffArgs;
use super::fleet::FleetArgs;
use super::lock::LockArgs;
use super::payload::PayloadArgs;
use super::render::RenderArgs;
use super::slots::SlotsArgs;
use super::update_server::UpdateServerArgs;
use super::validate::ValidateArgs;

/// The names kindling answers to as another tool (argv[0]); the package installs each as a
/// symlink to the binary.
pub const COMPAT_NAMES: [&str; 3] = ["update_engine_client", "locksmithctl", "coreos-cloudinit"];

/// kindling: compile, lint, preview and apply #cloud-config for CoreOS-style fleets.
#[derive(Debug, Parser)]
#[command(name = "kindling", version, about, max_term_width = 100)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check cloud-configs and report every mistake with its exact position.
    Validate(ValidateArgs),
    /// Compile a cloud-config into the files and actions a node needs.
    Compile(CompileArgs),
    /// Show what applying a config would change on a root, or what NEW changes over OLD.
    Diff(DiffArgs),
    /// Converge a root directory to a config: atomic, confined, convergent.
    Apply(ApplyArgs),
    /// Install the units and udev rules that run kindling at boot from datasources.
    BootUnits(BootUnitsArgs),
    /// Print one node's rendered config of a template (`## template: jinja`).
    Render(RenderArgs),
    /// Print the JSON Schema of the cloud-config dialect.
    Schema,
    /// The A/B /usr slots of a GPT disk: show, play the firmware, mark, create.
    Slots(SlotsArgs),
    /// The on-node update agent: run, status, check, reset.
    Agent(AgentArgs),
    /// Explain a diagnostic code (e.g. `structure::unknown-key`), or list them all.
    Explain {
        /// The code, with or without the `kindling::` prefix.
        code: Option<String>,
    },
    /// An Omaha update server for channels kept in a directory (publish, status, channel).
    UpdateServer(UpdateServerArgs),
    /// The cluster-wide reboot lock (locksmithctl-compatible) and a FleetLock server.
    Lock(LockArgs),
    /// The fleet in etcd: status, publish, diff, rollout, and a web dashboard (serve).
    Fleet(FleetArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(CompletionsArgs),
    /// Write the files a package installs beside the binary (units, rules, completions, man pages).
    #[command(hide = true)]
    PackageFiles(PackageFilesArgs),
    /// Download a payload into a slot region and verify it (the agent's payload step).
    #[command(hide = true)]
    Payload(PayloadArgs),
}
