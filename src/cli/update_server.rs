//! `kindling update-server`: run the Omaha server on a directory, publish releases into
//! it, show what it has seen, and set each channel's rollout controls.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Subcommand, ValueEnum};

use super::args::{DiffFormat, ServerLimitArgs};
use super::error::{CliError, finish};
use super::shared::emit;
use crate::omaha::COREOS_APP_ID;
use crate::update_server::{self as srv, releases, settings, status};

/// Arguments of `update-server`: serve, or one of its subcommands.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct UpdateServerArgs {
    /// publish, status or channel; without one, serve.
    #[command(subcommand)]
    pub action: Option<Action>,
    /// The server's directory (releases, rollout controls, instance records).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Where to listen; port 0 picks a free port. The address is printed on standard output.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The application id served; other ids get `error-unknownApplication`.
    #[arg(long, value_name = "ID", default_value = COREOS_APP_ID)]
    pub app_id: String,
    /// Scheme and host for payload URLs, e.g. https://updates.example.com (default:
    /// http:// and the Host the client asked for).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// How often changed instance records are written, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000, hide = true)]
    pub flush_interval_ms: u64,
    /// Machines recorded at most; past it the longest unseen are evicted.
    #[arg(long, value_name = "N", default_value_t = srv::instances::Bounds::default().max_machines)]
    pub max_machines: usize,
    /// New machines one client address may add to the records per minute (0: none).
    #[arg(long, value_name = "N", default_value_t = srv::instances::Bounds::default().new_per_address_per_minute)]
    pub new_machines_per_minute: u32,
    /// Timeouts, the connection cap and the body size limit.
    #[command(flatten)]
    pub limits: ServerLimitArgs,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Add a release to a channel: copy the payload in, with its minisign signature (kindling's
    /// format) or after checking its own RSA signature (an update_engine CrAU payload).
    Publish(PublishArgs),
    /// Show the channels and every machine the server has seen.
    Status(StatusArgs),
    /// Set a channel's rollout controls.
    Channel(ChannelArgs),
}

/// Arguments of `update-server publish`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The server's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The channel (the nodes' GROUP).
    #[arg(long, value_name = "NAME")]
    pub channel: String,
    /// The release's semantic version (e.g. 3033.2.0).
    #[arg(long, value_name = "V")]
    pub version: String,
    /// The payload file.
    #[arg(long, value_name = "FILE")]
    pub payload: PathBuf,
    /// Its minisign signature (`minisign -S -m FILE` writes FILE.minisig); kindling's format
    /// only, a CrAU payload is signed inside.
    #[arg(long, value_name = "FILE.minisig")]
    pub signature: Option<PathBuf>,
    /// A PEM public key (or a directory of *.pem) trusted to sign CrAU payloads, besides
    /// Flatcar's official key; repeatable.
    #[arg(long, value_name = "PEM|DIR")]
    pub trusted_key: Vec<PathBuf>,
    /// The package name in URLs (default: the payload's file name).
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
}

/// Arguments of `update-server status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The server's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = DiffFormat::Human)]
    pub format: DiffFormat,
}

/// on or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

/// Arguments of `update-server channel`.
#[derive(Debug, clap::Args)]
pub struct ChannelArgs {
    /// The server's directory.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    /// The channel.
    #[arg(long, value_name = "NAME")]
    pub channel: String,
    /// Grant updates on this channel at all.
    #[arg(long, value_enum)]
    pub updates: Option<Switch>,
    /// At most N updates granted per --period.
    #[arg(long, value_name = "N", requires = "period")]
    pub max_updates: Option<u32>,
    /// The period of --max-updates (30s, 15m, 1h, "15 minutes").
    #[arg(long, value_name = "DURATION", requires = "max_updates", value_parser = settings::parse_period)]
    pub period: Option<Duration>,
    /// Remove the --max-updates limit.
    #[arg(long, conflicts_with_all = ["max_updates", "period"])]
    pub no_limit: bool,
    /// Safe mode: one machine first, the rest once it is up on the new version; a failure
    /// halts the rollout.
    #[arg(long, value_enum)]
    pub safe_mode: Option<Switch>,
    /// In safe mode, how long the first machine may take before the rollout halts.
    #[arg(long, value_name = "DURATION", value_parser = settings::parse_period)]
    pub update_timeout: Option<Duration>,
    /// Clear a halted rollout so it continues.
    #[arg(long)]
    pub resume: bool,
}

pub(super) fn run(args: &UpdateServerArgs) -> Result<ExitCode, CliError> {
    let result = match &args.action {
        Some(Action::Publish(p)) => publish(p),
        Some(Action::Status(s)) => show_status(s),
        Some(Action::Channel(c)) => channel(c),
        None => serve(args),
    };
    result.map_err(|e| e.prefixed("kindling update-server: "))
}

fn serve(args: &UpdateServerArgs) -> Result<ExitCode, CliError> {
    let Some(dir) = args.dir.clone() else {
        return Err(CliError::Usage(
            "--dir DIR is needed (the directory `update-server publish` fills)".into(),
        ));
    };
    let config = srv::Config {
        dir,
        listen: args.listen,
        app_id: args.app_id.clone(),
        base_url: args.base_url.clone(),
        flush_interval: Duration::from_millis(args.flush_interval_ms.max(10)),
        shutdown_grace: Duration::from_secs(5),
        limits: args.limits.limits(),
        bounds: srv::instances::Bounds {
            max_machines: args.max_machines.max(1),
            new_per_address_per_minute: args.new_machines_per_minute,
        },
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(srv::serve(config, shutdown_signal(), |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
        eprintln!(
            "kindling update-server: Omaha at http://{addr}/v1/update/, payloads under http://{addr}/packages/"
        );
    }))?;
    Ok(ExitCode::SUCCESS)
}

async fn shutdown_signal() {
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = term => {}
    }
    eprintln!("kindling update-server: shutting down");
}

fn publish(args: &PublishArgs) -> Result<ExitCode, CliError> {
    let req = srv::PublishRequest {
        channel: &args.channel,
        version: &args.version,
        payload: &args.payload,
        signature: args.signature.as_deref(),
        trusted_keys: &args.trusted_key,
        name: args.name.as_deref(),
    };
    let r = srv::publish(&args.dir, &req)?;
    let signature = match &r.crau {
        Some(crau) => format!("  format    update_engine (CrAU), signed by {}\n", crau.key),
        None => format!("  signature {}{}.minisig\n", r.url_dir(), r.name),
    };
    Ok(emit(&format!(
        "published {} {} on channel {}: {} bytes, sha256 {}\n  payload   {}{}\n{signature}",
        r.name,
        r.version,
        r.channel,
        r.size,
        r.sha256,
        r.url_dir(),
        r.name,
    )))
}

fn show_status(args: &StatusArgs) -> Result<ExitCode, CliError> {
    let releases = releases::load_releases(&args.dir)?;
    let settings = settings::load(&args.dir)?;
    if !args.dir.is_dir() {
        return Err(CliError::Usage(format!(
            "{} is not a directory; create it with `update-server publish`",
            args.dir.display()
        )));
    }
    Ok(match args.format {
        DiffFormat::Json => {
            // Streamed: the log is indexed, each record parsed as it is written.
            let index = srv::record_log::index(&args.dir)?;
            let channels = status::channels(&releases, &settings);
            match status::write_json(std::io::stdout().lock(), &channels, &index) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
                Err(e) => finish(Err(CliError::Usage(format!("cannot write output: {e}")))),
            }
        }
        DiffFormat::Human => {
            let instances = srv::record_log::load(&args.dir)?.instances;
            emit(&status::render_table(&status::report(
                &releases, &settings, instances,
            )))
        }
    })
}

fn channel(args: &ChannelArgs) -> Result<ExitCode, CliError> {
    if !releases::valid_channel(&args.channel) {
        return Err(CliError::Usage(format!(
            "channel {:?} is not a valid name: use letters, digits, '.', '_' and '-'",
            args.channel
        )));
    }
    if args.max_updates == Some(0) {
        return Err(CliError::Usage(
            "--max-updates 0 grants nothing; use --updates off".into(),
        ));
    }
    let c = settings::update(&args.dir, &args.channel, |c| {
        if let Some(u) = args.updates {
            c.updates = u == Switch::On;
        }
        if let (Some(n), Some(p)) = (args.max_updates, args.period) {
            c.max_updates = Some(n);
            c.period_secs = Some(p.as_secs());
        }
        if args.no_limit {
            c.max_updates = None;
            c.period_secs = None;
        }
        if let Some(s) = args.safe_mode {
            c.safe_mode = s == Switch::On;
        }
        if let Some(t) = args.update_timeout {
            c.update_timeout_secs = Some(t.as_secs());
        }
        if args.resume {
            c.halted = None;
        }
    })?;
    let limit = match (c.max_updates, c.period_secs) {
        (Some(n), Some(p)) => format!(
            "at most {n} per {}",
            humantime::format_duration(Duration::from_secs(p))
        ),
        _ => "no limit".into(),
    };
    let halted = c
        .halted
        .as_ref()
        .map_or_else(String::new, |h| format!("; halted: {}", h.reason));
    Ok(emit(&format!(
        "channel {}: updates {}, {limit}, safe mode {}{halted}\n",
        args.channel,
        if c.updates { "on" } else { "off" },
        if c.safe_mode { "on" } else { "off" },
    )))
}
