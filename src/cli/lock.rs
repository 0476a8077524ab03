//! `kindling lock` (and, through `locksmithctl`, kindling installed under that name): the
//! cluster-wide reboot lock for operators: `status`, `set-max N`, `lock [ID]`, `unlock [ID]`, `reboot`, with
//! locksmithctl's flags, output and exit statuses (1 for every failure, 2 for usage), plus
//! `--backend`, `--format json`, `status --wide` and the FleetLock server `serve`.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::Duration;

use super::emit;
use super::error::{CliError, Status};
use crate::lock::operator::{self, Operation, OperatorError};
use crate::lock::{
    Acquired, Backend, DEFAULT_ENDPOINTS, LockConfig, RebootLock, Status as LockStatus, TlsFiles,
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
    /// The node's root: the machine id is DIR/etc/machine-id and `reboot` records the slot
    /// it holds across the reboot in DIR/var/lib/kindling/reboot-slot.json (default `/`).
    #[arg(long, global = true, value_name = "DIR", env = "KINDLING_ROOT")]
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
        /// Keep running while holding; release on SIGTERM or SIGINT, retrying while the lock
        /// cannot be reached until it succeeds or another SIGTERM says to give up (with
        /// --lease-ttl, a holder that dies keeps its slot only for the lease's TTL).
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
    ///
    /// The slot is recorded under the root before the reboot command runs, and the agent
    /// gives it back after the next boot's health check.
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
        /// Timeouts, the connection cap and the body size limit.
        #[command(flatten)]
        limits: super::args::ServerLimitArgs,
    },
}

/// Why a `--group-slots` value was refused (clap shows it after the flag).
#[derive(Debug, thiserror::Error)]
enum GroupSlotsError {
    #[error("{0:?} is not NAME=N")]
    NotAPair(String),
    #[error("{0:?} is not a number of slots")]
    NotANumber(String),
    #[error("the group name is empty")]
    EmptyName,
}

fn parse_group_slots(text: &str) -> Result<(String, u64), GroupSlotsError> {
    let (name, n) = text
        .split_once('=')
        .ok_or_else(|| GroupSlotsError::NotAPair(text.to_string()))?;
    let n = n
        .parse()
        .map_err(|_| GroupSlotsError::NotANumber(n.to_string()))?;
    if name.is_empty() {
        return Err(GroupSlotsError::EmptyName);
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

    /// The node's root (`/` unless `--root`).
    fn root_dir(&self) -> &std::path::Path {
        self.root.as_deref().unwrap_or(std::path::Path::new("/"))
    }

    /// The holder: `given`, or this machine's id.
    fn holder(&self, given: Option<&String>) -> Result<String, CliError> {
        Ok(operator::holder_id(
            given.map(String::as_str),
            self.root_dir(),
        )?)
    }

    /// The backend, built (FleetLock needs its server's URL).
    async fn backend(&self, lease_ttl: Option<u64>) -> Result<Box<dyn RebootLock>, CliError> {
        if self.backend == Backend::FleetLock && self.endpoint == DEFAULT_ENDPOINTS {
            return Err(CliError::Usage(
                "--backend fleetlock needs --endpoint URL of the FleetLock server".into(),
            ));
        }
        Ok(operator::open(&self.config(lease_ttl)).await?)
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))
}

/// Write `text` to standard output (a failure to is shown by [`emit`]).
fn print(text: &str) -> Result<(), CliError> {
    if emit(text) == ExitCode::SUCCESS {
        Ok(())
    } else {
        Err(CliError::Shown(Status::Usage))
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
pub fn status_text(status: &LockStatus, wide: bool, now: jiff::Timestamp) -> String {
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

fn status_json(args: &LockArgs, status: &LockStatus, now: jiff::Timestamp) -> String {
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

/// Every SIGTERM and SIGINT, as a message (registered before this returns).
fn stop_signals() -> tokio::sync::mpsc::UnboundedReceiver<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    if let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) {
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = int.recv() => {}
                }
                if tx.send(()).is_err() {
                    return;
                }
            }
        });
    } else {
        // No signal handling: the hold lasts until the process is killed.
        std::mem::forget(tx);
    }
    rx
}

pub(super) fn run(args: &LockArgs) -> Result<ExitCode, CliError> {
    runtime()?.block_on(run_async(args))?;
    Ok(ExitCode::SUCCESS)
}

async fn run_async(args: &LockArgs) -> Result<(), CliError> {
    let json = args.format == LockFormat::Json;
    match &args.command {
        LockCommand::Status { wide } => {
            let lock = args.backend(None).await?;
            let status = lock
                .status()
                .await
                .map_err(|e| OperatorError::failed(Operation::Status, e))?;
            let now = jiff::Timestamp::now();
            print(&if json {
                status_json(args, &status, now)
            } else {
                status_text(&status, *wide, now)
            })
        }
        LockCommand::SetMax { value } => {
            let value = value.as_ref().ok_or(OperatorError::MissingMax)?;
            let max = value
                .parse::<i64>()
                .map_err(|_| OperatorError::InvalidMax(value.clone()))?;
            let lock = args.backend(None).await?;
            let old = lock
                .set_max(max)
                .await
                .map_err(|e| OperatorError::failed(Operation::SetMax, e))?;
            print(&if json {
                format!("{{\"old_max\":{old},\"max\":{max}}}\n")
            } else {
                format!("Old-Max: {old}\nMax: {max}\n")
            })
        }
        LockCommand::Lock {
            id,
            wait,
            hold,
            lease_ttl,
        } => take(args, id.as_ref(), *wait, *hold, *lease_ttl).await,
        LockCommand::Unlock { id } => {
            let id = args.holder(id.as_ref())?;
            let lock = args.backend(None).await?;
            operator::release(lock.as_ref(), &id).await?;
            if json {
                print(&format!("{{\"id\":{id:?},\"result\":\"unlocked\"}}\n"))?;
            }
            Ok(())
        }
        LockCommand::Reboot {
            reboot_command,
            wait,
        } => {
            operator::may_reboot(reboot_command)?;
            let id = args.holder(None)?;
            let lock = args.backend(None).await?;
            let wait = wait.map(Duration::from_secs);
            let root = args.root_dir();
            let held = crate::lock::HeldSlot::new(
                &args.config(None),
                &id,
                &crate::lock::held::boot_id(root),
                "kindling lock reboot",
            );
            Ok(operator::reboot(lock.as_ref(), &id, reboot_command, wait, (root, &held)).await?)
        }
        LockCommand::Serve {
            listen,
            slots,
            group_slots,
            only_configured,
            admin_token,
            limits,
        } => {
            let options = crate::lock::server::ServeOptions {
                etcd: args.config(None),
                default_slots: *slots,
                groups: group_slots.iter().cloned().collect::<BTreeMap<_, _>>(),
                only_configured: *only_configured,
                admin_token: admin_token.clone(),
                limits: limits.limits(),
            };
            serve(args, listen, options)
                .await
                .map_err(|e| e.prefixed("kindling lock serve: "))
        }
    }
}

/// `lock`: take a slot (waiting when asked), say so in JSON, and with `--hold` keep it
/// until SIGTERM or SIGINT.
async fn take(
    args: &LockArgs,
    id: Option<&String>,
    wait: Option<u64>,
    hold: bool,
    lease_ttl: Option<u64>,
) -> Result<(), CliError> {
    let id = args.holder(id)?;
    let lock = args.backend(lease_ttl).await?;
    let acquired = operator::take(lock.as_ref(), &id, wait.map(Duration::from_secs)).await?;
    if args.format == LockFormat::Json {
        let word = match acquired {
            Acquired::Locked => "locked",
            Acquired::AlreadyHeld => "already-held",
        };
        print(&format!("{{\"id\":{id:?},\"result\":\"{word}\"}}\n"))?;
    }
    if hold {
        let mut stops = stop_signals();
        operator::hold(lock.as_ref(), &id, &mut stops, |e, wait| {
            eprintln!(
                "kindling lock: could not give the slot back yet ({e}); retrying in {}s (SIGTERM again to give up)",
                wait.as_secs()
            );
        })
        .await?;
    }
    Ok(())
}

/// `lock serve`: the FleetLock server on `listen` until SIGTERM or SIGINT.
async fn serve(
    args: &LockArgs,
    listen: &str,
    options: crate::lock::server::ServeOptions,
) -> Result<(), CliError> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {listen}: {e}")))?;
    if let Ok(addr) = listener.local_addr() {
        eprintln!(
            "kindling lock serve: FleetLock on http://{addr}/ (etcd {})",
            args.endpoint
        );
    }
    crate::lock::server::serve(listener, options, until_signal())
        .await
        .map_err(CliError::LockServer)
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
