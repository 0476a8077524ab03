//! kindling installed as `update_engine_client`: answers `-status`, `-check_for_update`,
//! `-update`, `-reset_status` and `-watch_for_updates` as update_engine's client does (gflags
//! spelling: `-flag`, `--flag`, `-flag=true`), so scripts written for CoreOS (the seed
//! recipe's update-window.sh) run unchanged on a kindling node. Extension: `-root=DIR` (or
//! `KINDLING_ROOT`) and `-disk=IMG` point it at a simulated node.
//!
//! `-status` asks over D-Bus first, as update_engine_client does (`GetStatus` on
//! `com.coreos.update1`): on the bus `DBUS_SYSTEM_BUS_ADDRESS` names, else the system bus
//! when the root is `/`. When nothing answers there (no bus, no agent serving it), it reads
//! the agent's record file in the root, as it always did.
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use super::agent::{NodeArgs, check, read_record, reset, tokio_runtime};
use super::error::{self, CliError};
use super::shared::{emit, root_at};
use crate::agent::driver::Outcome;
use crate::agent::state::{Record, Status};
use crate::root::Root;

#[derive(Debug, Default)]
struct Flags {
    status: bool,
    check_for_update: bool,
    update: bool,
    reset_status: bool,
    watch_for_updates: bool,
    root: Option<PathBuf>,
    disk: Option<PathBuf>,
}

/// A command line update_engine_client would refuse, in its words.
#[derive(Debug, thiserror::Error)]
enum FlagError {
    /// Not a flag.
    #[error("unexpected argument {0:?}")]
    Unexpected(String),
    /// A boolean flag with another value.
    #[error("-{name}={value}: not a boolean")]
    NotABoolean { name: String, value: String },
    /// `-root` or `-disk` without its path.
    #[error("-{0} needs a path")]
    NeedsPath(String),
    /// `-help`.
    #[error(
        "usage: update_engine_client [-status] [-check_for_update] [-update] [-reset_status] [-watch_for_updates]"
    )]
    Help,
    /// A flag update_engine_client does not have.
    #[error("unknown command line flag '{0}'")]
    Unknown(String),
}

fn parse(args: impl Iterator<Item = OsString>) -> Result<Flags, FlagError> {
    let mut flags = Flags::default();
    let mut args = args.map(|a| a.to_string_lossy().into_owned()).peekable();
    while let Some(arg) = args.next() {
        let Some(name) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            return Err(FlagError::Unexpected(arg));
        };
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (name, None),
        };
        let boolean = |v: &Option<String>| match v.as_deref() {
            None | Some("true" | "1" | "yes") => Ok(true),
            Some("false" | "0" | "no") => Ok(false),
            Some(other) => Err(FlagError::NotABoolean {
                name: name.to_string(),
                value: other.to_string(),
            }),
        };
        match name {
            "status" => flags.status = boolean(&value)?,
            "check_for_update" => flags.check_for_update = boolean(&value)?,
            "update" => flags.update = boolean(&value)?,
            "reset_status" => flags.reset_status = boolean(&value)?,
            "watch_for_updates" => flags.watch_for_updates = boolean(&value)?,
            "root" | "disk" => {
                let v = value
                    .or_else(|| args.next())
                    .ok_or_else(|| FlagError::NeedsPath(name.to_string()))?;
                if name == "root" {
                    flags.root = Some(PathBuf::from(v));
                } else {
                    flags.disk = Some(PathBuf::from(v));
                }
            }
            // update_engine_client logs to stderr already; these glog flags change nothing.
            "logtostderr" | "v" => {}
            "help" => return Err(FlagError::Help),
            other => return Err(FlagError::Unknown(other.to_string())),
        }
    }
    Ok(flags)
}

/// Run as `update_engine_client`.
pub fn main(args: impl Iterator<Item = OsString>) -> ExitCode {
    error::finish(main_inner(args))
}

/// update_engine_client's own way to fail: `ERROR: ` and the message, status 1.
fn client_failed(message: impl std::fmt::Display) -> CliError {
    CliError::Failed(message.to_string()).prefixed("ERROR: ")
}

fn main_inner(args: impl Iterator<Item = OsString>) -> Result<ExitCode, CliError> {
    let flags = parse(args).map_err(client_failed)?;
    let node = NodeArgs {
        root: flags
            .root
            .clone()
            .or_else(|| std::env::var_os("KINDLING_ROOT").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("/")),
        disk: flags.disk.clone(),
    };
    if flags.reset_status {
        eprintln!("Setting Update Engine status back to idle...");
        eprintln!("{}", reset(&node)?);
        return Ok(ExitCode::SUCCESS);
    }
    if flags.check_for_update || flags.update {
        eprintln!("Initiating update check and install.");
        let asked_at = crate::agent::driver::now();
        if let Some(Outcome::Failed(m)) = check(&node)? {
            eprintln!("Update failed: {m}");
            return Ok(ExitCode::from(1));
        }
        if flags.update {
            return wait_for_result(&node, asked_at);
        }
        if !flags.status {
            return Ok(ExitCode::SUCCESS);
        }
    }
    if flags.watch_for_updates {
        return Ok(watch(&root_at(&node.root)?));
    }
    // update_engine_client with no flag prints the status too.
    eprintln!("Querying Update Engine status...");
    if let Some(status) = status_over_bus(&node.root) {
        return Ok(emit(&crate::agent::status::render_status(&status)));
    }
    let record = read(&root_at(&node.root)?)?;
    Ok(emit(&crate::agent::status::render(&record)))
}

/// `GetStatus` from whoever serves `com.coreos.update1` on the bus (`DBUS_SYSTEM_BUS_ADDRESS`,
/// else the system bus when the root is `/`); `None` when there is no bus or nothing answers
/// within 10 s.
fn status_over_bus(root: &std::path::Path) -> Option<crate::bus::Status> {
    let choice = crate::bus::Choice::from_process(None, root == std::path::Path::new("/"));
    if choice == crate::bus::Choice::None {
        return None;
    }
    let ask = async {
        tokio::time::timeout(Duration::from_secs(10), crate::bus::status_on(&choice)).await
    };
    tokio_runtime().ok()?.block_on(ask).ok()?.ok()
}

/// The record, or update_engine_client's error.
fn read(root: &Root) -> Result<Record, CliError> {
    read_record(root).map_err(client_failed)
}

/// `-update`: poll until the check asked for at `asked_at` ended in IDLE or
/// UPDATED_NEED_REBOOT (update_engine_client polls every 5 s; kindling every second, reading
/// the record file), at most an hour.
fn wait_for_result(node: &NodeArgs, asked_at: i64) -> Result<ExitCode, CliError> {
    let root = root_at(&node.root)?;
    let deadline = std::time::Instant::now() + Duration::from_secs(3600);
    while std::time::Instant::now() < deadline {
        let r = read(&root)?;
        if r.status() == Status::UpdatedNeedReboot {
            eprintln!("Update succeeded -- reboot needed.");
            return Ok(ExitCode::SUCCESS);
        }
        if r.status() == Status::Idle {
            if let Some(e) = r.last_error().filter(|e| e.at >= asked_at) {
                eprintln!("Update failed: {}", e.message);
                return Ok(ExitCode::from(1));
            }
            if r.last_checked_time >= asked_at {
                eprintln!("No update available");
                return Ok(ExitCode::SUCCESS);
            }
        }
        // The running agent has not taken the request up yet, or is still at work.
        std::thread::sleep(Duration::from_secs(1));
    }
    Err(client_failed("the update did not finish within an hour"))
}

/// `-watch_for_updates`: print each status change (until killed).
fn watch(root: &Root) -> ExitCode {
    let mut last = String::new();
    loop {
        if let Ok(record) = read_record(root) {
            let now = crate::agent::status::render(&record);
            if now != last {
                let code = emit(&now);
                if code != ExitCode::SUCCESS {
                    return code;
                }
                last = now;
            }
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(args: &[&str]) -> Result<Flags, String> {
        parse(args.iter().map(OsString::from)).map_err(|e| e.to_string())
    }

    #[test]
    fn gflags_spellings() {
        assert!(flags(&["-status"]).unwrap().status);
        assert!(flags(&["--check_for_update"]).unwrap().check_for_update);
        assert!(!flags(&["-update=false"]).unwrap().update);
        assert_eq!(
            flags(&["-root", "/tmp/x"]).unwrap().root,
            Some(PathBuf::from("/tmp/x"))
        );
        assert!(flags(&["-bogus"]).unwrap_err().contains("bogus"));
        assert!(flags(&["status"]).is_err());
    }
}
