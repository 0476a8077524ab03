//! kindling installed as `locksmithctl`: locksmith's command line, answered as the real
//! `locksmithctl` 0.6.2 answers it, byte for byte on stdout and stderr and in the exit
//! status, for help and bad arguments too (checked against the real binary in
//! `tests/locksmithctl.rs`). Global flags are read as Go's `flag` package reads them
//! (`-name`, `--name`, `-name=value` or `-name value`, bool flags only with `=`, `--` ends
//! them, `-h`/`-help` prints the flag usage to stderr with status 0, a bad flag its error
//! and the usage with status 2); then the subcommand, whose own flag set has no flags (as
//! locksmith's: `-h` prints `flag: help requested`, status 2); `help [COMMAND]` prints the
//! command list or one command's help. The command itself runs as `kindling lock`.

use std::io::Write as _;
use std::process::ExitCode;

use super::error::{self, CliError, Status};
use super::lock::{LockArgs, run};

/// locksmithctl's help text (its `help` and bare invocation print it to stdout).
const USAGE: &str = "NAME:
\tlocksmithctl - Manage the cluster wide reboot lock.

USAGE: 
\tlocksmithctl [global options] <command> [command options] [arguments...]

VERSION:
\t0.6.2+git (kindling)

COMMANDS:
\thelp\t\t\tShow a list of commands or help for one command
\tlock\t\t\tLock this machine or a given machine-id for reboot.
\treboot\t\t\tReboot honoring reboot locks.
\tsend-need-reboot\tsend a 'need reboot' signal over dbus.
\tset-max\t\t\tSet the maximum number of lock holders
\tstatus\t\t\tGet the status of the cluster wide reboot lock.
\tunlock\t\t\tUnlock this machine or a given machine-id for reboot.

GLOBAL OPTIONS:
\t--debug=false\t\t\t\t\t\tPrint out debug information to stderr.
\t--endpoint=http://127.0.0.1:2379,http://127.0.0.1:4001\tetcd endpoint for locksmith. Specify multiple times to use multiple endpoints.
\t--etcd-cafile=\t\t\t\t\t\tetcd CA file authentication
\t--etcd-certfile=\t\t\t\t\tetcd cert file authentication
\t--etcd-keyfile=\t\t\t\t\t\tetcd key file authentication
\t--etcd-password=\t\t\t\t\tpassword for secure etcd communication
\t--etcd-username=\t\t\t\t\tusername for secure etcd communication
\t--group=\t\t\t\t\t\tlocksmith group
\t--version=false\t\t\t\t\t\tPrint the version and exit.

Run \"locksmithctl help <command>\" for more details on a specific command.
";

/// Go's `flag` usage of locksmithctl's global flags (`-h`, and after a bad flag).
const FLAG_USAGE: &str = "Usage of locksmithctl:
  -debug
    \tPrint out debug information to stderr.
  -endpoint value
    \tetcd endpoint for locksmith. Specify multiple times to use multiple endpoints.
  -etcd-cafile string
    \tetcd CA file authentication
  -etcd-certfile string
    \tetcd cert file authentication
  -etcd-keyfile string
    \tetcd key file authentication
  -etcd-password string
    \tpassword for secure etcd communication
  -etcd-username string
    \tusername for secure etcd communication
  -group string
    \tlocksmith group
  -version
    \tPrint the version and exit.
";

/// Each command: name, summary, usage line, description (`help COMMAND`).
const COMMANDS: [(&str, &str, &str, &str); 7] = [
    (
        "help",
        "Show a list of commands or help for one command",
        "help [COMMAND]",
        "Show a list of commands or detailed help for one command",
    ),
    (
        "lock",
        "Lock this machine or a given machine-id for reboot.",
        "lock <machine-id>",
        "Lock is for manual locking of the reboot lock for this machine or a given\n\tmachine-id. Under normal operation this should not be necessary.",
    ),
    (
        "reboot",
        "Reboot honoring reboot locks.",
        "reboot ",
        "Reboot will attempt to reboot immediately after taking a reboot lock. The user is responsible for unlocking after a successful reboot.",
    ),
    (
        "send-need-reboot",
        "send a 'need reboot' signal over dbus.",
        "send-need-reboot ",
        "Send a fake 'need reboot' signal to test locksmithd\n\twithout a full update cycle via update engine.",
    ),
    (
        "set-max",
        "Set the maximum number of lock holders",
        "set-max UNIT",
        "Set the maximum number of machines that can be rebooting at a given time. This\n\tcan be set at any time and will not affect current holders of the lock.",
    ),
    (
        "status",
        "Get the status of the cluster wide reboot lock.",
        "status ",
        "Status will return the number of locks that are held and available and a list of the holders.",
    ),
    (
        "unlock",
        "Unlock this machine or a given machine-id for reboot.",
        "unlock <machine-id>",
        "Unlock is for manual unlocking of the reboot unlock for this machine or a\n\tgiven machine-id. Under normal operation this should not be necessary.",
    ),
];

/// The global flags: the string ones (`--name=value` for clap), then the bool ones.
const STRING_FLAGS: [&str; 7] = [
    "endpoint",
    "etcd-cafile",
    "etcd-certfile",
    "etcd-keyfile",
    "etcd-password",
    "etcd-username",
    "group",
];
const BOOL_FLAGS: [&str; 2] = ["debug", "version"];

/// An answer decided before any command runs: what goes to stdout and stderr, and the
/// exit status.
struct Answer {
    stdout: String,
    stderr: String,
    code: u8,
}

impl Answer {
    fn out(stdout: impl Into<String>, code: u8) -> Answer {
        Answer {
            stdout: stdout.into(),
            stderr: String::new(),
            code,
        }
    }

    fn err(stderr: impl Into<String>, code: u8) -> Answer {
        Answer {
            stdout: String::new(),
            stderr: stderr.into(),
            code,
        }
    }

    fn give(self) -> ExitCode {
        let _ = std::io::stdout().write_all(self.stdout.as_bytes());
        let _ = std::io::stdout().flush();
        let _ = std::io::stderr().write_all(self.stderr.as_bytes());
        ExitCode::from(self.code)
    }
}

/// One argument as Go's `flag.FlagSet.parseOne` reads it.
enum GoArg {
    /// Not a flag (or `--`, consumed): the flags end here.
    End { consumed: bool },
    /// `-name` or `-name=value`.
    Flag { name: String, value: Option<String> },
    /// `---x`, `-=x`: `bad flag syntax: ARG`.
    Bad(String),
}

fn go_arg(arg: &str) -> GoArg {
    if arg.len() < 2 || !arg.starts_with('-') {
        return GoArg::End { consumed: false };
    }
    if arg == "--" {
        return GoArg::End { consumed: true };
    }
    let name = arg.strip_prefix("--").unwrap_or(&arg[1..]);
    if name.is_empty() || name.starts_with(['-', '=']) {
        return GoArg::Bad(format!("bad flag syntax: {arg}"));
    }
    match name.split_once('=') {
        Some((n, v)) => GoArg::Flag {
            name: n.to_string(),
            value: Some(v.to_string()),
        },
        None => GoArg::Flag {
            name: name.to_string(),
            value: None,
        },
    }
}

/// Go's `strconv.ParseBool`.
fn go_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// The global flags, as Go's `flag.Parse` (exit on error) reads them: the flags for clap and
/// whether `-version` was set, or the answer (help, a bad flag).
fn global_flags(
    args: &mut std::collections::VecDeque<String>,
) -> Result<(Vec<String>, bool), Answer> {
    let fail = |message: String| Answer::err(format!("{message}\n{FLAG_USAGE}"), 2);
    let mut flags = Vec::new();
    let mut endpoints: Vec<String> = Vec::new();
    let mut version = false;
    while let Some(arg) = args.front() {
        let (name, value) = match go_arg(arg) {
            GoArg::End { consumed } => {
                if consumed {
                    args.pop_front();
                }
                break;
            }
            GoArg::Bad(message) => return Err(fail(message)),
            GoArg::Flag { name, value } => (name, value),
        };
        args.pop_front();
        if BOOL_FLAGS.contains(&name.as_str()) {
            let set = match value {
                None => true,
                Some(v) => go_bool(&v).ok_or_else(|| {
                    fail(format!(
                        "invalid boolean value {v:?} for -{name}: parse error"
                    ))
                })?,
            };
            if name == "version" {
                version = set;
            }
        } else if STRING_FLAGS.contains(&name.as_str()) {
            let value = value
                .or_else(|| args.pop_front())
                .ok_or_else(|| fail(format!("flag needs an argument: -{name}")))?;
            if name == "endpoint" {
                // Given more than once: every one (the first replaces the default).
                endpoints.push(value);
            } else {
                flags.push(format!("--{name}={value}"));
            }
        } else if name == "h" || name == "help" {
            return Err(Answer::err(FLAG_USAGE, 0));
        } else {
            return Err(fail(format!("flag provided but not defined: -{name}")));
        }
    }
    if !endpoints.is_empty() {
        flags.push(format!("--endpoint={}", endpoints.join(",")));
    }
    Ok((flags, version))
}

/// A subcommand's own flags: locksmith's commands define none, so any flag is an error
/// (printed to stdout by locksmithctl, after the flag set's own report on stderr) and `-h`
/// asks for help; the arguments after the flags, or the answer.
fn command_args(args: std::collections::VecDeque<String>) -> Result<Vec<String>, Answer> {
    let mut args = args;
    let Some(first) = args.front() else {
        return Ok(Vec::new());
    };
    let message = match go_arg(first) {
        GoArg::End { consumed } => {
            if consumed {
                args.pop_front();
            }
            return Ok(args.into());
        }
        GoArg::Bad(message) => message,
        GoArg::Flag { name, .. } if name == "h" || name == "help" => {
            return Err(Answer {
                stdout: "flag: help requested\n".into(),
                stderr: "Usage:\n".into(),
                code: 2,
            });
        }
        GoArg::Flag { name, .. } => format!("flag provided but not defined: -{name}"),
    };
    Err(Answer {
        stdout: format!("{message}\n"),
        stderr: format!("{message}\nUsage:\n"),
        code: 2,
    })
}

/// `help COMMAND`.
fn command_help(command: &str) -> Answer {
    match COMMANDS.iter().find(|(name, ..)| *name == command) {
        Some((name, summary, usage, description)) => Answer::out(
            format!(
                "NAME:\n\t{name} - {summary}\n\nUSAGE:\n\tlocksmithctl {usage}\n\nDESCRIPTION:\n\t{description}\n\nFor help on global options run \"locksmithctl help\"\n"
            ),
            0,
        ),
        None => Answer::out(format!("Unrecognized command: {command}\n"), 1),
    }
}

/// kindling installed as `locksmithctl`. `parse` reads the translated `kindling lock ...`
/// command line (`None`: not a `lock` command).
#[must_use]
pub fn main(
    args: Vec<String>,
    parse: impl FnOnce(Vec<String>) -> Result<Option<LockArgs>, clap::Error>,
) -> ExitCode {
    let mut rest: std::collections::VecDeque<String> = args.into();
    let (flags, version) = match global_flags(&mut rest) {
        Ok(f) => f,
        Err(answer) => return answer.give(),
    };
    if version {
        return Answer::out("locksmithctl version 0.6.2+git (kindling)\n", 0).give();
    }
    let Some(command) = rest.pop_front() else {
        return Answer::out(USAGE, 0).give();
    };
    if !COMMANDS.iter().any(|(name, ..)| *name == command) {
        return Answer::out(
            format!("locksmithctl: unknown subcommand: {command:?}\nRun 'locksmithctl help' for usage.\n"),
            2,
        )
        .give();
    }
    let positional = match command_args(rest) {
        Ok(p) => p,
        Err(answer) => return answer.give(),
    };
    if command == "help" {
        return match positional.first() {
            Some(c) => command_help(c),
            None => Answer::out(USAGE, 0),
        }
        .give();
    }
    error::finish(locksmithctl(&command, flags, positional, parse))
}

/// A message of locksmithctl's own (no `kindling: ` prefix) with `status`.
fn said(status: Status, message: String) -> CliError {
    match status {
        Status::Failed => CliError::Failed(message),
        Status::Usage => CliError::Usage(message),
    }
    .prefixed("")
}

/// Run `command` (one of locksmithctl's) as `kindling lock`.
fn locksmithctl(
    command: &str,
    flags: Vec<String>,
    positional: Vec<String>,
    parse: impl FnOnce(Vec<String>) -> Result<Option<LockArgs>, clap::Error>,
) -> Result<ExitCode, CliError> {
    if command == "send-need-reboot" {
        return Err(said(
            Status::Failed,
            "send-need-reboot is not supported: kindling's agent does not listen for update_engine's D-Bus signal".into(),
        ));
    }
    let mut argv = vec!["kindling".to_string(), "lock".to_string()];
    argv.extend(flags);
    argv.push(command.to_string());
    // locksmithctl's positional arguments only; extra ones are ignored as by locksmithctl.
    let wanted = usize::from(command != "status" && command != "reboot");
    argv.push("--".into());
    argv.extend(positional.into_iter().take(wanted));
    match parse(argv) {
        Ok(Some(args)) => run(&args),
        Ok(None) => Err(CliError::Shown(Status::Usage)),
        Err(e) => {
            let _ = e.print();
            Err(CliError::Shown(Status::Usage))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_flag_syntax() {
        assert!(matches!(go_arg("-"), GoArg::End { consumed: false }));
        assert!(matches!(go_arg("--"), GoArg::End { consumed: true }));
        assert!(matches!(go_arg("status"), GoArg::End { consumed: false }));
        assert!(matches!(go_arg("---x"), GoArg::Bad(_)));
        assert!(matches!(go_arg("-=x"), GoArg::Bad(_)));
        let GoArg::Flag { name, value } = go_arg("--endpoint=a=b") else {
            panic!("a flag")
        };
        assert_eq!((name.as_str(), value.as_deref()), ("endpoint", Some("a=b")));
        assert_eq!(go_bool("T"), Some(true));
        assert_eq!(go_bool("yes"), None);
    }
}
