//! `kindling lock` (and kindling installed as `locksmithctl`): the cluster-wide reboot lock
//! for operators: `status`, `set-max N`, `lock [ID]`, `unlock [ID]`, `reboot`, with
//! locksmithctl's flags, output and exit statuses (1 for every failure, 2 for usage), plus
//! `--backend`, `--format json`, `status --wide` and the FleetLock server `serve`.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use crate::lock::{
    Acquired, Backend, DEFAULT_ENDPOINTS, LockConfig, LockError, RebootLock, Released, Status,
    TlsFiles,
};

/// Output formats of `kindling lock`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LockFormat {
    /// locksmithctl's text.
    Human,
    /// JSON.
    Json,
}

/// Arguments of `lock` (locksmithctl's global flags first).
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// etcd endpoints (comma-separated), or the FleetLock server's URL.
    #[arg(long, global = true, value_name = "URLS", env = "LOCKSMITHCTL_ENDPOINT", default_value = DEFAULT_ENDPOINTS)]
    pub endpoint: String,
    /// The lock group ("" is locksmith's default semaphore, `default` for etcd v3/FleetLock).
    #[arg(long, global = true, env = "LOCKSMITHCTL_GROUP", default_value = "")]
    pub group: String,
    /// CA file (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "LOCKSMITHCTL_ETCD_CAFILE"
    )]
    pub etcd_cafile: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "LOCKSMITHCTL_ETCD_CERTFILE"
    )]
    pub etcd_certfile: Option<std::path::PathBuf>,
    /// Client key (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "LOCKSMITHCTL_ETCD_KEYFILE"
    )]
    pub etcd_keyfile: Option<std::path::PathBuf>,
    /// etcd user name.
    #[arg(long, global = true, env = "LOCKSMITHCTL_ETCD_USERNAME")]
    pub etcd_username: Option<String>,
    /// etcd password.
    #[arg(
        long,
        global = true,
        env = "LOCKSMITHCTL_ETCD_PASSWORD",
        hide_env_values = true
    )]
    pub etcd_password: Option<String>,
    /// Where the semaphore is.
    #[arg(long, global = true, value_enum, default_value_t = Backend::Etcd2)]
    pub backend: Backend,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = LockFormat::Human)]
    pub format: LockFormat,
    /// Read the machine id from DIR/etc/machine-id instead of /etc/machine-id.
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<std::path::PathBuf>,
    /// locksmithctl's debug switch (accepted, no effect).
    #[arg(long, global = true, hide = true)]
    pub debug: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: LockCommand,
}

/// The subcommands of `lock`.
#[derive(Debug, clap::Subcommand)]
pub enum LockCommand {
    /// Show the semaphore: available and maximum slots, and the holders.
    Status {
        /// Also show how long each holder has held its slot and its last state.
        #[arg(long)]
        wide: bool,
    },
    /// Set the number of slots (holders are kept; `Available` may go negative).
    SetMax {
        /// The new maximum.
        value: Option<String>,
    },
    /// Take a slot for this machine or ID (idempotent: a holder keeps its one slot).
    Lock {
        /// The holder (default: this machine's id).
        id: Option<String>,
        /// Wait up to this many seconds for a free slot (watching etcd), instead of failing.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
        /// Keep running while holding; release on SIGTERM or SIGINT (with --lease-ttl, a
        /// holder that dies keeps its slot only for the lease's TTL).
        #[arg(long)]
        hold: bool,
        /// etcd v3: keep the hold alive on a lease of this many seconds.
        #[arg(long, value_name = "SECONDS")]
        lease_ttl: Option<u64>,
    },
    /// Give back the slot of this machine or ID.
    Unlock {
        /// The holder (default: this machine's id).
        id: Option<String>,
    },
    /// Take a slot for this machine, then reboot it (the slot is held across the reboot).
    Reboot {
        /// The reboot command (run with `sh -c`).
        #[arg(
            long,
            value_name = "CMD",
            env = "KINDLING_REBOOT_COMMAND",
            default_value = "systemctl reboot"
        )]
        reboot_command: String,
        /// Wait up to this many seconds for a free slot.
        #[arg(long, value_name = "SECONDS")]
        wait: Option<u64>,
    },
    /// Serve FleetLock (Airlock's protocol) on the etcd v3 semaphore at --endpoint.
    Serve {
        /// Address to listen on.
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9090")]
        listen: String,
        /// Slots of groups created on first use.
        #[arg(long, default_value_t = 1)]
        slots: u64,
        /// A group and its slots (NAME=N), written to etcd at start; repeatable.
        #[arg(long = "group-slots", value_name = "NAME=N", value_parser = parse_group_slots)]
        group_slots: Vec<(String, u64)>,
        /// Refuse groups not given with --group-slots (Airlock's `unknown_group`).
        #[arg(long)]
        only_configured: bool,
        /// Bearer token that allows /v1/admin/release from non-loopback peers.
        #[arg(long, env = "KINDLING_LOCK_ADMIN_TOKEN", hide_env_values = true)]
        admin_token: Option<String>,
    },
}

fn parse_group_slots(text: &str) -> Result<(String, u64), String> {
    let (name, n) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not NAME=N"))?;
    let n = n
        .parse()
        .map_err(|_| format!("{n:?} is not a number of slots"))?;
    if name.is_empty() {
        return Err("the group name is empty".into());
    }
    Ok((name.to_string(), n))
}

impl LockArgs {
    fn config(&self, lease_ttl: Option<u64>) -> LockConfig {
        let auth = self
            .etcd_username
            .as_ref()
            .map(|u| (u.clone(), self.etcd_password.clone().unwrap_or_default()));
        LockConfig {
            backend: self.backend,
            endpoints: crate::lock::config_endpoints(&self.endpoint),
            group: self.group.clone(),
            tls: TlsFiles {
                ca: self.etcd_cafile.clone(),
                cert: self.etcd_certfile.clone(),
                key: self.etcd_keyfile.clone(),
            },
            auth,
            lease_ttl: lease_ttl.map(Duration::from_secs),
            timeout: Duration::from_secs(10),
        }
    }

    fn machine_id(&self, given: Option<&String>) -> Result<String, ExitCode> {
        if let Some(id) = given {
            return Ok(id.clone());
        }
        let path = self
            .root
            .as_deref()
            .unwrap_or(std::path::Path::new("/"))
            .join("etc/machine-id");
        match std::fs::read_to_string(&path) {
            Ok(text) if !text.trim().is_empty() => Ok(text.trim().to_string()),
            Ok(_) => {
                eprintln!("Error retrieving machine-id: {} is empty", path.display());
                Err(ExitCode::from(1))
            }
            Err(e) => {
                eprintln!("Error retrieving machine-id: {}: {e}", path.display());
                Err(ExitCode::from(1))
            }
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("kindling: cannot start the async runtime: {e}");
            ExitCode::from(2)
        })
}

/// locksmith's prefix for a failure, by operation; an unreachable backend reads as
/// locksmithctl's client initialisation error.
fn fail(what: &str, e: &LockError) -> ExitCode {
    match e {
        LockError::Unavailable(why) => eprintln!("Error initializing etcd client: {why}"),
        LockError::Config(why) => eprintln!("Error initializing etcd client: {why}"),
        other => eprintln!("{what}: {other}"),
    }
    ExitCode::from(1)
}

fn print(text: &str) -> ExitCode {
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("kindling: cannot write output: {e}");
            ExitCode::from(2)
        }
    }
}

/// A short age: `45s`, `3m12s`, `2h05m`, `3d04h`.
#[must_use]
pub fn age(secs: i64) -> String {
    let secs = secs.max(0);
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        3600..86400 => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d{:02}h", secs / 86400, secs % 86400 / 3600),
    }
}

/// locksmithctl's status text (`wide` adds age and state columns).
#[must_use]
pub fn status_text(status: &Status, wide: bool, now: jiff::Timestamp) -> String {
    let mut out = format!("Available: {}\nMax: {}\n", status.available, status.max);
    if status.holders.is_empty() {
        return out;
    }
    out.push('\n');
    if !wide {
        out.push_str("MACHINE ID\n");
        for h in &status.holders {
            out.push_str(&h.id);
            out.push('\n');
        }
        return out;
    }
    let width = status
        .holders
        .iter()
        .map(|h| h.id.len())
        .max()
        .unwrap_or(0)
        .max("MACHINE ID".len());
    out.push_str(&format!(
        "{:<width$}  {:<9}  STATE\n",
        "MACHINE ID", "HELD FOR"
    ));
    for h in &status.holders {
        let held = h
            .since
            .map_or("-".to_string(), |s| age(now.duration_since(s).as_secs()));
        let mut state = h.state.clone().unwrap_or_else(|| "-".into());
        match h.alive {
            Some(true) => state.push_str(" (lease alive)"),
            Some(false) => state.push_str(" (lease expired)"),
            None => {}
        }
        out.push_str(&format!("{:<width$}  {held:<9}  {state}\n", h.id));
    }
    out
}

fn status_json(args: &LockArgs, status: &Status, now: jiff::Timestamp) -> String {
    let holders: Vec<serde_json::Value> = status
        .holders
        .iter()
        .map(|h| {
            serde_json::json!({
                "id": h.id,
                "since": h.since,
                "held_seconds": h.since.map(|s| now.duration_since(s).as_secs()),
                "state": h.state,
                "alive": h.alive,
            })
        })
        .collect();
    let value = serde_json::json!({
        "backend": args.backend,
        "group": args.group,
        "max": status.max,
        "available": status.available,
        "holders": holders,
    });
    serde_json::to_string_pretty(&value).unwrap_or_default() + "\n"
}

/// Whether this process runs as root (locksmithctl's `reboot` requires it).
fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

async fn backend(args: &LockArgs, lease_ttl: Option<u64>) -> Result<Box<dyn RebootLock>, ExitCode> {
    if args.backend == Backend::FleetLock && args.endpoint == DEFAULT_ENDPOINTS {
        eprintln!("kindling: --backend fleetlock needs --endpoint URL of the FleetLock server");
        return Err(ExitCode::from(2));
    }
    crate::lock::connect(&args.config(lease_ttl))
        .await
        .map_err(|e| fail("Error initializing lock", &e))
}

async fn until_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        std::future::pending::<()>().await;
        return;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

pub(super) fn run(args: &LockArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(run_async(args))
}

async fn run_async(args: &LockArgs) -> ExitCode {
    let json = args.format == LockFormat::Json;
    match &args.command {
        LockCommand::Status { wide } => {
            let lock = match backend(args, None).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            match lock.status().await {
                Ok(status) => {
                    let now = jiff::Timestamp::now();
                    print(&if json {
                        status_json(args, &status, now)
                    } else {
                        status_text(&status, *wide, now)
                    })
                }
                Err(e) => fail("Error retrieving status", &e),
            }
        }
        LockCommand::SetMax { value } => {
            let Some(value) = value else {
                eprintln!("New maximum value must be set.");
                return ExitCode::from(1);
            };
            let Ok(max) = value.parse::<i64>() else {
                eprintln!("Invalid maximum value: {value}");
                return ExitCode::from(1);
            };
            let lock = match backend(args, None).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            match lock.set_max(max).await {
                Ok(old) if json => print(&format!("{{\"old_max\":{old},\"max\":{max}}}\n")),
                Ok(old) => print(&format!("Old-Max: {old}\nMax: {max}\n")),
                Err(e) => fail("Error setting value", &e),
            }
        }
        LockCommand::Lock {
            id,
            wait,
            hold,
            lease_ttl,
        } => {
            let id = match args.machine_id(id.as_ref()) {
                Ok(id) => id,
                Err(c) => return c,
            };
            let lock = match backend(args, *lease_ttl).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            let result = match wait {
                Some(secs) => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(*secs);
                    lock.wait_lock(&id, deadline).await
                }
                None => lock.lock(&id).await,
            };
            let acquired = match result {
                Ok(a) => a,
                Err(e) => return fail("Error locking", &e),
            };
            if json {
                let word = match acquired {
                    Acquired::Locked => "locked",
                    Acquired::AlreadyHeld => "already-held",
                };
                let code = print(&format!("{{\"id\":{:?},\"result\":\"{word}\"}}\n", id));
                if code != ExitCode::SUCCESS {
                    return code;
                }
            }
            if *hold {
                until_signal().await;
                if let Err(e) = lock.unlock(&id).await {
                    return fail("Error unlocking", &e);
                }
            }
            ExitCode::SUCCESS
        }
        LockCommand::Unlock { id } => {
            let id = match args.machine_id(id.as_ref()) {
                Ok(id) => id,
                Err(c) => return c,
            };
            let lock = match backend(args, None).await {
                Ok(l) => l,
                Err(c) => return c,
            };
            match lock.unlock(&id).await {
                Ok(Released::Unlocked) => {
                    if json {
                        print(&format!("{{\"id\":{id:?},\"result\":\"unlocked\"}}\n"))
                    } else {
                        ExitCode::SUCCESS
                    }
                }
                Ok(Released::NotHeld) => {
                    eprintln!("Error unlocking: holder does not exist");
                    ExitCode::from(1)
                }
                Err(e) => fail("Error unlocking", &e),
            }
        }
        LockCommand::Reboot {
            reboot_command,
            wait,
        } => reboot(args, reboot_command, *wait).await,
        LockCommand::Serve {
            listen,
            slots,
            group_slots,
            only_configured,
            admin_token,
        } => {
            let options = crate::lock::server::ServeOptions {
                etcd: args.config(None),
                default_slots: *slots,
                groups: group_slots.iter().cloned().collect::<BTreeMap<_, _>>(),
                only_configured: *only_configured,
                admin_token: admin_token.clone(),
            };
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("kindling lock serve: cannot listen on {listen}: {e}");
                    return ExitCode::from(2);
                }
            };
            if let Ok(addr) = listener.local_addr() {
                eprintln!(
                    "kindling lock serve: FleetLock on http://{addr}/ (etcd {})",
                    args.endpoint
                );
            }
            match crate::lock::server::serve(listener, options, until_signal()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("kindling lock serve: {e}");
                    ExitCode::from(1)
                }
            }
        }
    }
}

async fn reboot(args: &LockArgs, command: &str, wait: Option<u64>) -> ExitCode {
    if command == "systemctl reboot" && !is_root() {
        eprintln!("Must be root to initiate reboot.");
        return ExitCode::from(1);
    }
    let id = match args.machine_id(None) {
        Ok(id) => id,
        Err(c) => return c,
    };
    let lock = match backend(args, None).await {
        Ok(l) => l,
        Err(c) => return c,
    };
    let result = match wait {
        Some(secs) => {
            lock.wait_lock(&id, tokio::time::Instant::now() + Duration::from_secs(secs))
                .await
        }
        None => lock.lock(&id).await,
    };
    let acquired = match result {
        Ok(a) => a,
        Err(e) => return fail("Error locking", &e),
    };
    let _ = lock.set_state(&id, "rebooting").await;
    let status = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .status()
        .await;
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        failed => {
            let why = match failed {
                Ok(s) => format!("exited with {s}"),
                Err(e) => e.to_string(),
            };
            // The node is not rebooting: a slot taken for this reboot goes back.
            let released = acquired == Acquired::Locked && lock.unlock(&id).await.is_ok();
            eprintln!(
                "Error rebooting: {command:?} {why}{}",
                if released {
                    "; the reboot lock was released"
                } else {
                    ""
                }
            );
            ExitCode::from(1)
        }
    }
}

/// locksmithctl's help text (its `help` and bare invocation print it to stdout).
const LOCKSMITHCTL_USAGE: &str = "NAME:
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

const GO_FLAGS: [&str; 9] = [
    "debug",
    "endpoint",
    "etcd-cafile",
    "etcd-certfile",
    "etcd-keyfile",
    "etcd-password",
    "etcd-username",
    "group",
    "version",
];

/// kindling installed as `locksmithctl`: Go-style flags (`-endpoint=X`, `--endpoint X`)
/// before the subcommand, then locksmithctl's subcommands. `parse` reads the translated
/// `kindling lock ...` command line (`None`: not a `lock` command).
#[must_use]
pub fn locksmithctl_main(
    args: Vec<String>,
    parse: impl FnOnce(Vec<String>) -> Result<Option<LockArgs>, clap::Error>,
) -> ExitCode {
    let mut flags = Vec::new();
    let mut rest = args.into_iter().peekable();
    while let Some(arg) = rest.peek().cloned() {
        let Some(flag) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            break;
        };
        rest.next();
        let (name, value) = match flag.split_once('=') {
            Some((n, v)) => (n.to_string(), Some(v.to_string())),
            None => (flag.to_string(), None),
        };
        if !GO_FLAGS.contains(&name.as_str()) {
            eprintln!("flag provided but not defined: -{name}");
            return ExitCode::from(2);
        }
        match name.as_str() {
            "version" if value.as_deref() != Some("false") => {
                return print("locksmithctl version 0.6.2+git (kindling)\n");
            }
            "version" => {}
            "debug" => {}
            _ => {
                let value = match value.or_else(|| rest.next()) {
                    Some(v) => v,
                    None => {
                        eprintln!("flag needs an argument: -{name}");
                        return ExitCode::from(2);
                    }
                };
                flags.push(format!("--{name}={value}"));
            }
        }
    }
    let Some(command) = rest.next() else {
        return print(LOCKSMITHCTL_USAGE);
    };
    match command.as_str() {
        "help" => return print(LOCKSMITHCTL_USAGE),
        "status" | "set-max" | "lock" | "unlock" | "reboot" => {}
        "send-need-reboot" => {
            eprintln!(
                "send-need-reboot is not supported: kindling's agent does not listen for update_engine's D-Bus signal"
            );
            return ExitCode::from(1);
        }
        other => {
            eprintln!("locksmithctl: unknown subcommand: {other:?}");
            eprintln!("Run 'locksmithctl help' for usage.");
            return ExitCode::from(2);
        }
    }
    let mut argv = vec!["kindling".to_string(), "lock".to_string()];
    argv.extend(flags);
    argv.push(command.clone());
    // locksmithctl's positional arguments only; extra ones are ignored as by locksmithctl.
    let wanted = usize::from(command != "status" && command != "reboot");
    argv.extend(rest.take(wanted));
    match parse(argv) {
        Ok(Some(args)) => run(&args),
        Ok(None) => ExitCode::from(2),
        Err(e) => {
            let _ = e.print();
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages() {
        assert_eq!(age(45), "45s");
        assert_eq!(age(192), "3m12s");
        assert_eq!(age(7500), "2h05m");
        assert_eq!(age(2 * 86400 + 3 * 3600), "2d03h");
    }
}
