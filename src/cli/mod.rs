//! The command line: parses arguments with clap and runs one subcommand.
//!
//! Exit statuses: 0 clean, 1 the input has errors (or warnings under `--strict`), 2
//! usage or I/O problems. Reports go to standard output, problems running the command
//! to standard error; `error` is the one place that turns a failure into both.
//!
//! This file is the dispatcher only: the command tree is `command`, the flag groups and
//! value types several commands share are `args`, writing output, colour and roots are
//! `shared`, a config planned for one node is `node_plan`, and each command is its own file
//! (`validate`, `compile` with `compile_args` and `compile_template`, `diff`, `apply`,
//! `render`, ...). Names re-exported here keep their old paths (`cli::Color`, ...).

use std::process::ExitCode;

use clap::Parser;

mod agent;
mod apply;
mod args;
mod boot_units;
mod command;
mod compile;
mod compile_args;
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
mod locksmithctl;
mod node_plan;
pub mod package_files;
mod payload;
mod reboot_manager;
pub mod reference;
mod render;
mod shared;
mod slots;
mod template_input;
mod update_engine_client;
mod update_server;
mod validate;

pub use apply::ApplyArgs;
pub use args::{Color, DiffFormat, Format};
pub use command::{COMPAT_NAMES, Cli, Command};
pub use compile_args::{CompileArgs, CompileTarget};
pub use completions::script as completion_script;
pub use diff::DiffArgs;
pub use lock::{LockArgs, LockCommand, LockFormat};
pub use render::RenderArgs;
// `use_color` too, for command files that still name it here.
#[allow(unused_imports)]
pub(crate) use shared::{emit, use_color};
pub use update_server::UpdateServerArgs;
pub use validate::ValidateArgs;

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
        "update_engine_client" => update_engine_client::main(std::env::args_os().skip(1)),
        "locksmithctl" => locksmithctl::main(
            std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect(),
            parse_lock,
        ),
        "coreos-cloudinit" => coreos_cloudinit_main(),
        _ => run(Cli::try_parse()),
    }
}

/// kindling as `coreos-cloudinit`: its `-version`, or `apply` with its flags.
fn coreos_cloudinit_main() -> ExitCode {
    // `std::env::args` panics on an argument that is not UTF-8; every argument is text or
    // a path kindling keeps as text, so such an argument is a usage error (status 2).
    let mut argv = Vec::new();
    for (i, arg) in std::env::args_os().enumerate() {
        match arg.into_string() {
            Ok(arg) => argv.push(arg),
            Err(_) if i == 0 => argv.push("coreos-cloudinit".to_string()),
            Err(raw) => {
                return error::finish(Err(error::CliError::Usage(format!(
                    "argument {i} ({}) is not valid UTF-8",
                    raw.to_string_lossy()
                ))));
            }
        }
    }
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
    run(Cli::try_parse_from(
        coreos_cloudinit::coreos_cloudinit_args(&argv),
    ))
}

/// `kindling lock ...` as parsed for `locksmithctl` (`None`: not a `lock` command).
fn parse_lock(argv: Vec<String>) -> Result<Option<LockArgs>, clap::Error> {
    Cli::try_parse_from(argv).map(|cli| match cli.command {
        Command::Lock(args) => Some(args),
        _ => None,
    })
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
    error::finish(dispatch(cli.command))
}

/// Run one subcommand.
fn dispatch(command: Command) -> Result<ExitCode, error::CliError> {
    match command {
        Command::Validate(args) => validate::run(&args),
        Command::Compile(args) => compile::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Apply(args) => apply::run(&args),
        Command::Render(args) => render::run(&args),
        Command::Schema => shared::write_out(&crate::schema::render()),
        Command::BootUnits(args) => boot_units::run(&args),
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
