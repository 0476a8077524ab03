//! The reboot hooks of update.conf, read and run: `KINDLING_PRE_REBOOT_COMMAND` (with
//! `KINDLING_PRE_REBOOT_TIMEOUT`) runs immediately before a reboot kindling makes, and
//! `KINDLING_POST_BOOT_COMMAND` (with `KINDLING_POST_BOOT_TIMEOUT`) after the next boot's
//! health check passed, before the reboot slot is given back.
//!
//! A command is split into words as a POSIX shell splits them (quotes and backslashes, no
//! expansion; `model::values::hook_words`, the compiler's check too) and run **without a
//! shell**: the first word is the program (an absolute path),
//! the rest its arguments. A hook that wants a shell asks for one
//! (`/bin/sh -c 'kubectl drain "$(hostname)"'`). It runs in its own process group with the
//! agent's environment plus [`ENV_HOOK`], [`ENV_REASON`], [`ENV_LOCK_GROUP`],
//! [`ENV_MACHINE_ID`] and `KINDLING_ROOT`, standard input from `/dev/null`, and its standard
//! output and error are logged line by line, each line prefixed with the hook's name. When
//! it outlives its timeout the whole group is sent SIGTERM, then SIGKILL after
//! [`KILL_GRACE`]; when it ends, whatever it left running in its group is killed too, so a
//! hook never outlives its verdict. The policy around a failure (no reboot, slot kept) is the
//! agent's (`agent::hooks`); this file only reads and runs.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;

use super::error::{Error, InFile};
use crate::model::values::{hook_timeout, hook_words};

use crate::plan::agent::{
    POST_BOOT_COMMAND_KEY, POST_BOOT_TIMEOUT_KEY, PRE_REBOOT_COMMAND_KEY, PRE_REBOOT_TIMEOUT_KEY,
};

/// A hook's timeout when none is set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);
/// Between SIGTERM and SIGKILL of a hook that timed out.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// The hook's environment: `pre-reboot` or `post-boot`.
pub const ENV_HOOK: &str = "KINDLING_HOOK";
/// The hook's environment: why the node reboots (`update to 1.0.1`, `config change: ...`).
pub const ENV_REASON: &str = "KINDLING_REBOOT_REASON";
/// The hook's environment: the reboot lock group (`default` when none is set).
pub const ENV_LOCK_GROUP: &str = "KINDLING_LOCK_GROUP";
/// The hook's environment: `/etc/machine-id`.
pub const ENV_MACHINE_ID: &str = "KINDLING_MACHINE_ID";

/// Which hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Which {
    /// Before the reboot.
    PreReboot,
    /// After the next boot's health check.
    PostBoot,
}

impl Which {
    /// Its name in logs and the environment.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Which::PreReboot => "pre-reboot",
            Which::PostBoot => "post-boot",
        }
    }
}

/// One hook: its command as written, its words, its timeout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hook {
    /// Which one.
    pub which: Which,
    /// The command as update.conf has it.
    pub command: String,
    /// The program and its arguments.
    pub argv: Vec<String>,
    /// How long it may run.
    pub timeout: Duration,
}

/// Both hooks, as set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Hooks {
    /// `KINDLING_PRE_REBOOT_COMMAND`.
    pub pre_reboot: Option<Hook>,
    /// `KINDLING_POST_BOOT_COMMAND`.
    pub post_boot: Option<Hook>,
}

impl Hooks {
    /// The hooks of update.conf's keys; `origin` names the file of a key, for errors.
    ///
    /// # Errors
    /// A command or a timeout that cannot be used.
    pub fn from_keys(
        keys: &BTreeMap<String, String>,
        origin: &BTreeMap<String, String>,
    ) -> Result<Hooks, Error> {
        let one = |which: Which, command_key: &'static str, timeout_key: &'static str| {
            let at = |key: &str| InFile(origin.get(key).cloned());
            let timeout = match keys.get(timeout_key).filter(|v| !v.trim().is_empty()) {
                None => DEFAULT_TIMEOUT,
                Some(v) => hook_timeout(v).map_err(|e| Error::BadHook {
                    key: timeout_key,
                    value: v.clone(),
                    why: e.to_string(),
                    origin: at(timeout_key),
                })?,
            };
            let Some(command) = keys.get(command_key).filter(|v| !v.trim().is_empty()) else {
                return Ok(None);
            };
            let argv = hook_words(command).map_err(|e| Error::BadHook {
                key: command_key,
                value: command.clone(),
                why: e.to_string(),
                origin: at(command_key),
            })?;
            Ok(Some(Hook {
                which,
                command: command.trim().to_string(),
                argv,
                timeout,
            }))
        };
        Ok(Hooks {
            pre_reboot: one(
                Which::PreReboot,
                PRE_REBOOT_COMMAND_KEY,
                PRE_REBOOT_TIMEOUT_KEY,
            )?,
            post_boot: one(
                Which::PostBoot,
                POST_BOOT_COMMAND_KEY,
                POST_BOOT_TIMEOUT_KEY,
            )?,
        })
    }
}

/// Why a hook did not succeed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookFailed {
    /// The program could not be started.
    #[error("`{command}` could not be started: {why}")]
    CannotRun {
        /// The command.
        command: String,
        /// The error.
        why: String,
    },
    /// It exited with a status other than 0.
    #[error("`{command}` exited with status {code}")]
    Exited {
        /// The command.
        command: String,
        /// The status.
        code: i32,
    },
    /// A signal ended it.
    #[error("`{command}` was killed by signal {signal}")]
    Signalled {
        /// The command.
        command: String,
        /// The signal.
        signal: i32,
    },
    /// It ran past its timeout (its process group was killed).
    #[error(
        "`{command}` ran longer than its timeout of {secs}s and was killed with its process group"
    )]
    TimedOut {
        /// The command.
        command: String,
        /// The timeout.
        secs: u64,
    },
}

/// Run `hook` with `env` added to the agent's environment; every line it prints goes to
/// `log` as `<name> hook: <line>`. Returns when the hook (and its process group) is gone.
///
/// # Errors
/// The hook could not start, failed, or timed out ([`HookFailed`]).
pub async fn run(
    hook: &Hook,
    env: &[(&str, String)],
    log: &mut (dyn FnMut(&str) + Send),
) -> Result<(), HookFailed> {
    let name = hook.which.name();
    let cannot = |e: std::io::Error| HookFailed::CannotRun {
        command: hook.command.clone(),
        why: e.to_string(),
    };
    let (reader, writer) = std::io::pipe().map_err(cannot)?;
    let mut command = tokio::process::Command::new(&hook.argv[0]);
    command
        .args(&hook.argv[1..])
        .env(ENV_HOOK, name)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .current_dir("/")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(cannot)?)
        .stderr(writer)
        .process_group(0)
        .kill_on_drop(true);
    let spawned = command.spawn();
    // The command holds the pipe's write end: dropped, the read end sees the end once the
    // hook and everything it started are gone.
    drop(command);
    let mut child = spawned.map_err(cannot)?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .and_then(rustix::process::Pid::from_raw);
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        let mut reader = std::io::BufReader::new(reader);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match std::io::BufRead::read_until(&mut reader, b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf);
                    if tx
                        .send(line.trim_end_matches(['\n', '\r']).to_string())
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
    });
    let deadline = tokio::time::Instant::now() + hook.timeout;
    let mut timed_out = false;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            Some(line) = lines.recv() => log(&format!("{name} hook: {line}")),
            () = tokio::time::sleep_until(deadline), if !timed_out => {
                timed_out = true;
                log(&format!(
                    "{name} hook: ran longer than {}s; stopping it and its process group",
                    hook.timeout.as_secs()
                ));
                kill_group(pid, rustix::process::Signal::TERM);
                if tokio::time::timeout(KILL_GRACE, child.wait()).await.is_err() {
                    kill_group(pid, rustix::process::Signal::KILL);
                }
            }
        }
    };
    // Whatever the hook left running in its group goes with it.
    kill_group(pid, rustix::process::Signal::KILL);
    let drain_until = tokio::time::Instant::now() + Duration::from_secs(2);
    while let Ok(Some(line)) = tokio::time::timeout_at(drain_until, lines.recv()).await {
        log(&format!("{name} hook: {line}"));
    }
    if timed_out {
        return Err(HookFailed::TimedOut {
            command: hook.command.clone(),
            secs: hook.timeout.as_secs(),
        });
    }
    let status = status.map_err(cannot)?;
    match (
        status.code(),
        std::os::unix::process::ExitStatusExt::signal(&status),
    ) {
        (Some(0), _) => Ok(()),
        (Some(code), _) => Err(HookFailed::Exited {
            command: hook.command.clone(),
            code,
        }),
        (None, signal) => Err(HookFailed::Signalled {
            command: hook.command.clone(),
            signal: signal.unwrap_or(0),
        }),
    }
}

/// Signal the hook's whole process group (it is its leader); a group already gone is fine.
fn kill_group(pid: Option<rustix::process::Pid>, signal: rustix::process::Signal) {
    if let Some(pid) = pid {
        let _ = rustix::process::kill_process_group(pid, signal);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(command: &str, secs: u64) -> Hook {
        Hook {
            which: Which::PreReboot,
            command: command.into(),
            argv: hook_words(command).unwrap(),
            timeout: Duration::from_secs(secs),
        }
    }

    fn run_now(h: &Hook) -> (Result<(), HookFailed>, Vec<String>) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let mut lines = Vec::new();
        let r = rt.block_on(run(
            h,
            &[(ENV_REASON, "update to 1.0.1".into())],
            &mut |l: &str| lines.push(l.to_string()),
        ));
        (r, lines)
    }

    #[test]
    fn output_is_logged_line_by_line_with_the_environment() {
        let (r, lines) = run_now(&hook(
            "/bin/sh -c 'echo \"$KINDLING_HOOK: $KINDLING_REBOOT_REASON\"; echo err >&2; exit 3'",
            10,
        ));
        assert_eq!(
            r,
            Err(HookFailed::Exited {
                command: "/bin/sh -c 'echo \"$KINDLING_HOOK: $KINDLING_REBOOT_REASON\"; echo err >&2; exit 3'".into(),
                code: 3
            })
        );
        assert!(
            lines.contains(&"pre-reboot hook: pre-reboot: update to 1.0.1".to_string()),
            "{lines:?}"
        );
        assert!(
            lines.contains(&"pre-reboot hook: err".to_string()),
            "{lines:?}"
        );
        let (r, _) = run_now(&hook("/no/such/program", 10));
        assert!(matches!(r, Err(HookFailed::CannotRun { .. })), "{r:?}");
    }
}
