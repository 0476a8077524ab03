//! The health check that judges a freshly booted release before its slot is marked good.
//!
//! By default: `systemctl is-system-running --wait` must not say `degraded` (update_engine
//! marks the slot good unconditionally after 45 s; kindling asks systemd first). Settable:
//! units that must be active (`KINDLING_HEALTH_UNITS`) and a command that must exit 0
//! (`KINDLING_HEALTH_COMMAND`, run with `/bin/sh -c` and `KINDLING_ROOT` set). On a root
//! other than the running system nothing is asked of the host's systemd (as `apply` does
//! for live actions): only the command runs there.

use std::process::Command;
use std::time::Duration;

use super::error::Error;
use super::settings::Health;

/// The verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Healthy; what was checked.
    Healthy(Vec<String>),
    /// Not healthy; why.
    Unhealthy(String),
}

/// Run the health check for `root` (`is_host`: the root is the running system).
#[must_use]
pub fn check(health: &Health, root: &std::path::Path, is_host: bool, timeout: Duration) -> Verdict {
    let mut checked = Vec::new();
    if is_host {
        if health.units.is_empty() && health.command.is_none() {
            match output("systemctl", &["is-system-running", "--wait"], timeout) {
                Ok(state) if state.trim() == "degraded" => {
                    return Verdict::Unhealthy(
                        "systemctl is-system-running says degraded (systemctl --failed lists why)"
                            .into(),
                    );
                }
                Ok(state) => checked.push(format!("system {}", state.trim())),
                Err(e) => return Verdict::Unhealthy(e.to_string()),
            }
        }
        for unit in &health.units {
            match output("systemctl", &["is-active", unit], timeout) {
                Ok(state) if state.trim() == "active" => checked.push(format!("{unit} active")),
                Ok(state) => {
                    return Verdict::Unhealthy(format!("{unit} is {}, not active", state.trim()));
                }
                Err(e) => return Verdict::Unhealthy(e.to_string()),
            }
        }
    } else if !health.units.is_empty() {
        checked.push(format!(
            "units not asked ({} is not the running system)",
            root.display()
        ));
    }
    if let Some(command) = &health.command {
        let status = run_command(command, root, timeout);
        match status {
            Ok(()) => checked.push(format!("`{command}` exited 0")),
            Err(e) => return Verdict::Unhealthy(e.to_string()),
        }
    }
    if checked.is_empty() {
        checked.push(format!(
            "nothing to ask ({} is not the running system and no KINDLING_HEALTH_COMMAND is set)",
            root.display()
        ));
    }
    Verdict::Healthy(checked)
}

fn output(program: &str, args: &[&str], timeout: Duration) -> Result<String, Error> {
    let mut command = Command::new(program);
    command.args(args).stdout(std::process::Stdio::piped());
    let child = spawn(&mut command).map_err(|source| Error::CannotRun {
        program: program.to_string(),
        source,
    })?;
    wait_bounded(child, timeout, &format!("{program} {}", args.join(" "))).map(|(_, out)| out)
}

fn run_command(command: &str, root: &std::path::Path, timeout: Duration) -> Result<(), Error> {
    let mut shell = Command::new("/bin/sh");
    shell
        .arg("-c")
        .arg(command)
        .env("KINDLING_ROOT", root)
        .stdout(std::process::Stdio::null());
    let child = spawn(&mut shell).map_err(|source| Error::HealthCommandCannotRun {
        command: command.to_string(),
        source,
    })?;
    let (code, _) = wait_bounded(child, timeout, command)?;
    match code {
        Some(0) => Ok(()),
        Some(code) => Err(Error::HealthCommandExited {
            command: command.to_string(),
            code,
        }),
        None => Err(Error::HealthCommandKilled {
            command: command.to_string(),
        }),
    }
}

/// Start a health check's program, its standard error silenced.
fn spawn(command: &mut Command) -> std::io::Result<std::process::Child> {
    command.stderr(std::process::Stdio::null()).spawn()
}

/// Wait for a child at most `timeout`, killing it after that.
fn wait_bounded(
    mut child: std::process::Child,
    timeout: Duration,
    what: &str,
) -> Result<(Option<i32>, String), Error> {
    let start = std::time::Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => {
                let mut out = String::new();
                if let Some(mut s) = child.stdout.take() {
                    let _ = std::io::Read::read_to_string(&mut s, &mut out);
                }
                return Ok((status.code(), out));
            }
            Ok(None) if start.elapsed() < timeout => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(Error::TookTooLong {
                    what: what.to_string(),
                    secs: timeout.as_secs(),
                });
            }
            Err(source) => {
                return Err(Error::CannotWait {
                    what: what.to_string(),
                    source,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn on_a_test_root_only_the_command_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let ok = Health {
            units: vec!["x.service".into()],
            command: Some("test -n \"$KINDLING_ROOT\"".into()),
        };
        assert!(matches!(
            check(&ok, dir.path(), false, Duration::from_secs(5)),
            Verdict::Healthy(_)
        ));
        let bad = Health {
            units: vec![],
            command: Some("exit 3".into()),
        };
        assert_eq!(
            check(&bad, dir.path(), false, Duration::from_secs(5)),
            Verdict::Unhealthy("the health command `exit 3` exited 3".into())
        );
        let slow = Health {
            units: vec![],
            command: Some("sleep 5".into()),
        };
        assert!(matches!(
            check(&slow, dir.path(), false, Duration::from_millis(200)),
            Verdict::Unhealthy(m) if m.contains("longer than")
        ));
    }
}
