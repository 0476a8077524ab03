//! The command line: parses arguments with clap and runs one subcommand.
//!
//! Exit statuses: 0 clean, 1 the input has errors (or warnings under `--strict`), 2
//! usage or I/O problems. Reports go to standard output, problems running the command
//! to standard error.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Severity;
use crate::report;

mod agent;
mod apply;
mod boot_units;
mod compile;
mod compile_template;
mod completions;
mod coreos_cloudinit;
mod diff;
pub mod error;
mod explain;
mod fleet;
mod fleet_recover;
pub mod from;
mod from_args;
mod lock;
pub mod package_files;
mod payload;
pub mod reference;
mod render;
mod slots;
mod template_input;
mod update_engine_client;
mod update_server;
mod validate;

pub use apply::ApplyArgs;
pub use compile::{CompileArgs, CompileTarget};
pub use completions::script as completion_script;
pub use diff::DiffArgs;
pub use lock::{LockArgs, LockCommand, LockFormat};
pub use render::RenderArgs;
pub use update_server::UpdateServerArgs;
pub use validate::ValidateArgs;

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
    BootUnits(boot_units::BootUnitsArgs),
    /// Print one node's rendered config of a template (`## template: jinja`).
    Render(RenderArgs),
    /// Print the JSON Schema of the cloud-config dialect.
    Schema,
    /// The A/B /usr slots of a GPT disk: show, play the firmware, mark, create.
    Slots(slots::SlotsArgs),
    /// The on-node update agent: run, status, check, reset.
    Agent(agent::AgentArgs),
    /// Explain a diagnostic code (e.g. `structure::unknown-key`), or list them all.
    Explain {
        /// The code, with or without the `kindling::` prefix.
        code: Option<String>,
    },
    /// An Omaha update server for channels kept in a directory (publish, status, channel).
    UpdateServer(UpdateServerArgs),
    /// The cluster-wide reboot lock (locksmithctl-compatible) and a FleetLock server.
    Lock(LockArgs),
    /// The fleet in etcd: status, publish, diff, rollout.
    Fleet(fleet::FleetArgs),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(completions::CompletionsArgs),
    /// Write the files a package installs beside the binary (units, rules, completions, man pages).
    #[command(hide = true)]
    PackageFiles(package_files::PackageFilesArgs),
    /// Download a payload into a slot region and verify it (the agent's payload step).
    #[command(hide = true)]
    Payload(payload::PayloadArgs),
}

/// Formats of `diff` and `apply` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DiffFormat {
    /// A unified diff and a summary line.
    Human,
    /// JSON.
    Json,
}

/// `--var NAME=VALUE`: one flag for both kinds of per-node value. The names
/// `public_ipv4`, `private_ipv4`, `public_ipv6` and `private_ipv6` fill coreos-cloudinit's
/// `$` substitution (and are template variables too); any other name is a template
/// variable, refused for a plain config (see `template_input::plain_vars`).
pub(crate) fn parse_var(text: &str) -> Result<(String, String), String> {
    crate::template::vars::parse_var(text)
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

/// Run the command line; returns the process's exit status.
#[must_use]
pub fn main() -> ExitCode {
    // Installed under another tool's name, kindling answers as that tool does.
    let argv0 = std::env::args_os()
        .next()
        .and_then(|a| {
            std::path::Path::new(&a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_default();
    match argv0.as_str() {
        "update_engine_client" => {
            return update_engine_client::main(std::env::args_os().skip(1));
        }
        "locksmithctl" => {
            return lock::locksmithctl_main(
                std::env::args_os()
                    .skip(1)
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
            );
        }
        "coreos-cloudinit" => {
            let argv: Vec<String> = std::env::args().collect();
            if argv
                .iter()
                .skip(1)
                .any(|a| matches!(a.as_str(), "-version" | "--version" | "-version=true"))
            {
                return emit(concat!(
                    "coreos-cloudinit (kindling ",
                    env!("CARGO_PKG_VERSION"),
                    ")\n"
                ));
            }
            return run(Cli::try_parse_from(
                coreos_cloudinit::coreos_cloudinit_args(&argv),
            ));
        }
        _ => {}
    }
    run(Cli::try_parse())
}

fn run(parsed: Result<Cli, clap::Error>) -> ExitCode {
    let cli = match parsed {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    match cli.command {
        Command::Validate(args) => validate::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::BootUnits(args) => boot_units::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Schema => emit(&crate::schema::render()),
        Command::Agent(args) => agent::run(&args),
        Command::Slots(args) => slots::run(&args),
        Command::Explain { code } => explain::run(code.as_deref()),
        Command::UpdateServer(args) => update_server::run(&args),
        Command::Lock(args) => lock::run(&args),
        Command::Payload(args) => payload::run(&args),
        Command::Fleet(args) => fleet::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::PackageFiles(args) => package_files::run(&args),
    }
}

pub(crate) fn emit(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`kindling ... | head`) is not worth a message.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kindling: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

pub(crate) fn use_color(choice: Color, stream_is_terminal: bool) -> bool {
    match choice {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none(),
    }
}

/// Compile `file` for a node (update.conf merged with the root's own, when there is a root);
/// prints findings to standard error. `Err` is the exit status to return. A template
/// (`## template: jinja`) is rendered with `var_files` and `vars` first; a plain config
/// refuses template-only variables.
pub(crate) fn plan_for_vars(
    file: &str,
    vars: &[(String, String)],
    var_files: &[String],
    root: Option<&crate::root::Root>,
    color: Color,
) -> Result<crate::plan::Plan, ExitCode> {
    plan_for_node(file, vars, var_files, root, color, true)
}

/// [`plan_for_vars`]; `refuse_unused` says whether template-only variables are an error for
/// a plain config (not on the plain side of `diff OLD NEW` when the other side is a template).
pub(crate) fn plan_for_node(
    file: &str,
    vars: &[(String, String)],
    var_files: &[String],
    root: Option<&crate::root::Root>,
    color: Color,
    refuse_unused: bool,
) -> Result<crate::plan::Plan, ExitCode> {
    use template_input::{Input, Inputs, input, plain_vars, print_findings};
    let inputs = Inputs::read(var_files, None, vars)?;
    let bytes = match input(file)? {
        Input::Plain(bytes) => {
            if refuse_unused {
                plain_vars(file, &inputs)?;
            }
            bytes
        }
        Input::Broken(v) => {
            print_findings(std::slice::from_ref(&v), color);
            eprintln!("kindling: {file} has errors; nothing to compare or apply");
            return Err(ExitCode::from(1));
        }
        Input::Template(t) => {
            print_findings(&inputs.validations, color);
            if inputs.failed {
                eprintln!("kindling: the variables have errors; nothing to compare or apply");
                return Err(ExitCode::from(1));
            }
            let nodes = inputs.nodes();
            let mut options = compile_options(root, vars);
            options.vars.extend(template_input::dollar_vars(&nodes[0]));
            let compiled = crate::compile::compile_node(&t, &nodes[0], &options);
            let validations = crate::validate::group(&t, &nodes[..1], vec![compiled.findings]);
            print_findings(&validations, color);
            return compiled.plan.ok_or_else(|| {
                eprintln!("kindling: {file} has errors; nothing to compare or apply");
                ExitCode::from(1)
            });
        }
    };
    let options = compile_options(root, vars);
    let compiled = crate::compile::compile(file, bytes, &options);
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    for finding in compiled
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        eprint!(
            "{}",
            report::human::render_finding(&compiled.validation.source, finding, style)
        );
        eprintln!();
    }
    compiled.plan.ok_or_else(|| {
        eprintln!("kindling: {file} has errors; nothing to compare or apply");
        ExitCode::from(1)
    })
}

/// Tree compile options for a node: `$` variables from `vars`, and update.conf merged with
/// the root's own when there is a root.
fn compile_options(
    root: Option<&crate::root::Root>,
    vars: &[(String, String)],
) -> crate::compile::Options {
    let base = root.and_then(|r| {
        ["/etc/coreos/update.conf", "/usr/share/coreos/update.conf"]
            .iter()
            .find_map(|p| match r.observe(p) {
                Ok(crate::root::Observed::File { bytes, .. }) => {
                    Some(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => None,
            })
    });
    crate::compile::Options {
        target: crate::compile::Target::Tree,
        vars: vars
            .iter()
            .filter(|(k, _)| crate::compile::VARIABLES.contains(&k.as_str()))
            .cloned()
            .collect(),
        plan: crate::plan::PlanOptions {
            update_conf_base: base,
        },
    }
}

pub(crate) fn open_root(path: &std::path::Path) -> Result<crate::root::Root, ExitCode> {
    crate::root::Root::new(path).map_err(|err| {
        eprintln!("kindling: {err}");
        ExitCode::from(2)
    })
}
