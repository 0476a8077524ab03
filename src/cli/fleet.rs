//! `kindling fleet status|publish|diff|rollout|serve`: the fleet in etcd (see `crate::fleet`; the
//! dashboard is `crate::dashboard`).
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use super::error::{CliError, Status};

use crate::fleet::controller;
use crate::fleet::listing::host_names;
use crate::fleet::rollout::{self, Kind, Rollout};
use crate::fleet::{Error, FleetEtcd, Mirror, preview, view};
use crate::lock::{DEFAULT_ENDPOINTS, LockConfig, TlsFiles};

/// Arguments of `fleet`.
#[derive(Debug, clap::Args)]
pub struct FleetArgs {
    /// etcd endpoints (comma-separated), as for `kindling lock`.
    #[arg(long, visible_alias = "etcd", global = true, value_name = "URLS", env = "KINDLING_FLEET_ENDPOINT", default_value = DEFAULT_ENDPOINTS)]
    pub endpoint: String,
    /// The fleet group.
    #[arg(long, global = true, default_value = "default")]
    pub group: String,
    /// CA file (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "KINDLING_FLEET_ETCD_CAFILE"
    )]
    pub etcd_cafile: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "KINDLING_FLEET_ETCD_CERTFILE"
    )]
    pub etcd_certfile: Option<std::path::PathBuf>,
    /// Client key (PEM) for the etcd connection.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "KINDLING_FLEET_ETCD_KEYFILE"
    )]
    pub etcd_keyfile: Option<std::path::PathBuf>,
    /// Output format.
    #[arg(long, global = true, value_enum, default_value_t = super::DiffFormat::Human)]
    pub format: super::DiffFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: FleetCommand,
}

/// The fleet subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum FleetCommand {
    /// One row per node (sw-patch query-hosts) and a summary line.
    Status {
        /// Redraw as the fleet changes (by watch, not polling).
        #[arg(long)]
        watch: bool,
        /// With --watch: stop after this many seconds (default: never).
        #[arg(long, value_name = "SECS")]
        watch_for: Option<u64>,
    },
    /// Validate, compile and publish a config as the group's next generation.
    Publish {
        /// The cloud-config.
        config: String,
        /// Agents apply it only when a rollout admits them.
        #[arg(long)]
        hold: bool,
        /// The generation (default: the published one plus one; never backwards).
        #[arg(long)]
        generation: Option<u64>,
    },
    /// What publishing CONFIG would change on each node, from the published digests.
    Diff {
        /// The cloud-config.
        config: String,
    },
    /// A web dashboard of the group(s): overview, nodes, a node's history, releases; live by
    /// server-sent events from the fleet's watch; read-only unless --allow-control.
    Serve(ServeArgs),
    /// Orchestrated rollout of a held config or of an OS release: create, show, apply,
    /// abort, rollback.
    Rollout {
        /// What to do.
        #[command(subcommand)]
        command: RolloutCommand,
    },
}

/// Arguments of `fleet serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where to listen (loopback unless told otherwise).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:7480")]
    pub listen: std::net::SocketAddr,
    /// More groups to show beside --group (comma-separated).
    #[arg(long, value_name = "GROUPS", value_delimiter = ',')]
    pub also: Vec<String>,
    /// The reboot lock's group whose semaphore is shown (as `kindling lock --group`).
    #[arg(long, value_name = "GROUP", default_value = "default")]
    pub lock_group: String,
    /// The update server's directory (`update-server --dir`): a releases page.
    #[arg(long, value_name = "DIR")]
    pub update_dir: Option<std::path::PathBuf>,
    /// Allow control actions (abort or run a rollout, release a dead holder's slot), each
    /// with the token as a bearer token, confirmed and logged.
    #[arg(long, requires = "control_token_file")]
    pub allow_control: bool,
    /// The file holding the control token (at least 16 characters; required by
    /// --allow-control).
    #[arg(long, value_name = "FILE")]
    pub control_token_file: Option<std::path::PathBuf>,
    /// A rollout run from the dashboard waits this long for one wave, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    pub node_timeout: u64,
    /// Timeouts and the connection cap, as every kindling server's.
    #[command(flatten)]
    pub limits: super::args::ServerLimitArgs,
}

/// The rollout subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RolloutCommand {
    /// Create a rollout of the published (held) generation, or with --release of an OS
    /// release (agents reboot into it only once admitted).
    Create {
        /// Roll out this OS release instead of a config: nodes that staged it reboot into it
        /// only when admitted, then through their window and the reboot lock.
        #[arg(long, value_name = "VERSION")]
        release: Option<String>,
        /// serial or parallel.
        #[arg(long = "type", value_enum, default_value_t = Kind::Serial)]
        kind: Kind,
        /// With parallel: the most nodes applying at once.
        #[arg(long, default_value_t = 5)]
        max_parallel: usize,
        /// `strict` (stop at the first failure) or `relaxed:K` (tolerate up to K).
        #[arg(long, default_value = "strict", value_parser = parse_gate)]
        gate: usize,
        /// Replace a finished rollout.
        #[arg(long)]
        replace: bool,
    },
    /// Show the rollout.
    Show,
    /// Run the rollout (admit waves, health gate) until it completes, stops or is aborted.
    Apply {
        /// How long to wait for the nodes of one wave, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 600)]
        node_timeout: u64,
    },
    /// Stop admitting nodes; the wave in flight finishes.
    Abort,
    /// Return nodes to the generation they had before their last apply (the node checks
    /// and restores its own saved files, and answers in its record).
    Rollback {
        /// The nodes (machine id or hostname).
        nodes: Vec<String>,
        /// Every node the current config rollout counts as failed.
        #[arg(long)]
        failed: bool,
        /// The generation to return to (default: the one each node reports it can restore).
        #[arg(long, value_name = "GENERATION")]
        to: Option<u64>,
        /// How long to wait for the nodes' answers, in seconds.
        #[arg(long, value_name = "SECS", default_value_t = 60)]
        timeout: u64,
    },
}

/// A `--gate` that is neither `strict` nor `relaxed:K` (what was given).
#[derive(Debug, thiserror::Error)]
#[error("{0:?} is not a gate: use strict or relaxed:K")]
struct NotAGate(String);

fn parse_gate(text: &str) -> Result<usize, NotAGate> {
    match text {
        "strict" => Ok(0),
        other => other
            .strip_prefix("relaxed:")
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| NotAGate(other.to_string())),
    }
}

fn config(args: &FleetArgs) -> LockConfig {
    LockConfig {
        backend: crate::lock::Backend::Etcd3,
        endpoints: crate::lock::config_endpoints(&args.endpoint),
        group: args.group.clone(),
        tls: TlsFiles {
            ca: args.etcd_cafile.clone(),
            cert: args.etcd_certfile.clone(),
            key: args.etcd_keyfile.clone(),
        },
        ..LockConfig::default()
    }
}

pub(super) fn run(args: &FleetArgs) -> Result<ExitCode, CliError> {
    let rt = super::agent::tokio_runtime()?;
    rt.block_on(async {
        let store = FleetEtcd::connect(&config(args), &args.group)
            .await
            .map_err(|e| CliError::Usage(format!("cannot reach etcd at {}: {e}", args.endpoint)))?;
        let done = match &args.command {
            FleetCommand::Status { watch, watch_for } => {
                status(args, &store, *watch, watch_for.map(Duration::from_secs)).await
            }
            FleetCommand::Publish {
                config,
                hold,
                generation,
            } => publish(args, &store, config, *hold, *generation).await,
            FleetCommand::Diff { config } => diff(args, &store, config).await,
            FleetCommand::Rollout { command } => rollout_cmd(args, &store, command).await,
            FleetCommand::Serve(serve_args) => serve(args, serve_args).await,
        };
        // The client connects on its first request: an etcd that is not there shows here.
        match done {
            Err(CliError::Fleet(e)) => match unreachable(&e) {
                Some(cause) => Err(CliError::Usage(format!(
                    "cannot reach etcd at {} ({}){}; start etcd or pass --endpoint",
                    args.endpoint,
                    crate::lock::describe_etcd_error(cause),
                    if matches!(e, crate::fleet::Error::NotPublished(_)) {
                        "; nothing published"
                    } else {
                        ""
                    }
                ))),
                None => Err(CliError::Fleet(e)),
            },
            other => other,
        }
    })
}

/// etcd's error when `e` is etcd not being there at all.
fn unreachable(e: &crate::fleet::Error) -> Option<&etcd_client::Error> {
    match e {
        crate::fleet::Error::Etcd(cause) if crate::lock::etcd_unreachable(cause) => Some(cause),
        crate::fleet::Error::NotPublished(why) => unreachable(why),
        _ => None,
    }
}

async fn serve(args: &FleetArgs, serve: &ServeArgs) -> Result<ExitCode, CliError> {
    let control_token = match (&serve.control_token_file, serve.allow_control) {
        (Some(file), true) => {
            let text = std::fs::read_to_string(file).map_err(|e| {
                CliError::Usage(format!(
                    "cannot read the control token {}: {e}",
                    file.display()
                ))
            })?;
            let token = text.trim().to_string();
            if token.chars().count() < 16 {
                return Err(CliError::Usage(format!(
                    "the control token in {} is {} characters; use at least 16",
                    file.display(),
                    token.chars().count()
                )));
            }
            Some(token)
        }
        (Some(_), false) => {
            return Err(CliError::Usage(
                "--control-token-file without --allow-control: control stays off; add --allow-control".into(),
            ));
        }
        _ => None,
    };
    let mut groups = vec![args.group.clone()];
    for g in &serve.also {
        if !g.is_empty() && !groups.contains(g) {
            groups.push(g.clone());
        }
    }
    let listener = tokio::net::TcpListener::bind(serve.listen)
        .await
        .map_err(|e| CliError::Usage(format!("cannot listen on {}: {e}", serve.listen)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| CliError::Failed(e.to_string()))?;
    if !addr.ip().is_loopback() {
        eprintln!(
            "kindling fleet serve: listening on {addr}, which is not loopback (as --listen says)"
        );
    }
    eprintln!(
        "kindling fleet serve: http://{addr}/ ({}{})",
        if control_token.is_some() {
            "control on, with the token"
        } else {
            "read-only"
        },
        if serve.update_dir.is_some() {
            ", releases from the update server's directory"
        } else {
            ""
        }
    );
    let mut lock = config(args);
    lock.group.clone_from(&serve.lock_group);
    let options = crate::dashboard::Options {
        etcd: config(args),
        groups,
        lock,
        update_dir: serve.update_dir.clone(),
        control_token,
        node_timeout: Duration::from_secs(serve.node_timeout),
        limits: serve.limits.limits(),
    };
    // SIGTERM (systemd, a test's guard) or SIGINT: the open pages' streams end, then the
    // server.
    let shutdown = async {
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
        eprintln!("kindling fleet serve: shutting down");
    };
    crate::dashboard::serve(listener, options, shutdown)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    Ok(ExitCode::SUCCESS)
}

async fn build_view(store: &FleetEtcd) -> Result<view::View, crate::fleet::Error> {
    let published = store.published().await?.map_or(0, |(p, _)| p.generation);
    let nodes = store.nodes().await?;
    Ok(view::build(store.group(), published, &nodes))
}

/// `value` as pretty JSON, one line feed after it.
fn json(value: &impl serde::Serialize) -> String {
    let mut t = serde_json::to_string_pretty(value).unwrap_or_default();
    t.push('\n');
    t
}

fn show_view(args: &FleetArgs, v: &view::View) -> String {
    match args.format {
        super::DiffFormat::Json => json(v),
        super::DiffFormat::Human => view::render(v),
    }
}

async fn status(
    args: &FleetArgs,
    store: &FleetEtcd,
    watch: bool,
    limit: Option<Duration>,
) -> Result<ExitCode, CliError> {
    if !watch {
        return Ok(super::emit(&show_view(args, &build_view(store).await?)));
    }
    // Read once, then redraw from the changes the watch brings (see `crate::fleet::mirror`).
    let mut fleet = Mirror::open(store).await?;
    let terminal = std::io::stdout().is_terminal();
    let clear = if terminal { "\u{1b}[H\u{1b}[2J" } else { "" };
    let draw = |fleet: &Mirror| {
        show_view(
            args,
            &view::build(store.group(), fleet.published(), &fleet.listed()),
        )
    };
    let mut last = draw(&fleet);
    let _ = super::emit(&format!("{clear}{last}"));
    // Without --watch-for the wait is bounded only by a far deadline (a year).
    let deadline =
        tokio::time::Instant::now() + limit.unwrap_or(Duration::from_secs(365 * 24 * 3600));
    loop {
        if !fleet.changed(deadline).await? {
            return Ok(ExitCode::SUCCESS);
        }
        // Changes come in bursts (a wave of nodes): redraw at most 5 times a second.
        tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(200)),
        )
        .await;
        fleet.catch_up().await?;
        let text = draw(&fleet);
        if text != last {
            if terminal {
                let _ = super::emit(&format!("{clear}{text}"));
            } else {
                let _ = super::emit(&format!("\n{text}"));
            }
            last = text;
        }
    }
}

/// The config file's bytes (a file: it is read twice, here and by the diagnostics, and
/// standard input cannot be).
fn read_config(file: &str) -> Result<Vec<u8>, CliError> {
    if file == "-" {
        return Err(CliError::Usage(
            "the config must be a file, not standard input (-)".into(),
        ));
    }
    crate::source::read(file).map_err(|e| CliError::Usage(e.to_string()))
}

async fn publish(
    args: &FleetArgs,
    store: &FleetEtcd,
    file: &str,
    hold: bool,
    generation: Option<u64>,
) -> Result<ExitCode, CliError> {
    let bytes = read_config(file)?;
    if bytes.len() > crate::fleet::keys::MAX_CONFIG_BYTES {
        return Err(CliError::Failed(format!(
            "{file} is {} bytes; a published config may have at most {} bytes; nothing published",
            bytes.len(),
            crate::fleet::keys::MAX_CONFIG_BYTES
        )));
    }
    // The usual diagnostics; a config with errors is refused before etcd is touched. Its
    // `$private_ipv4`-style variables are each node's own: checked here with placeholders.
    let placeholders = crate::fleet::vars::placeholders(&String::from_utf8_lossy(&bytes));
    if let Err(err) = plan_with_placeholders(file, &placeholders) {
        super::error::show(&err);
        eprintln!("kindling: nothing published");
        return Err(CliError::Shown(err.status()));
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return Err(CliError::Failed(format!(
            "{file} is not UTF-8 text; nothing published"
        )));
    };
    let p = store.publish(&text, hold, generation).await?;
    let how = if hold {
        "held: nodes apply it when `kindling fleet rollout apply` admits them"
    } else {
        "the group's agents apply it now"
    };
    let out = match args.format {
        super::DiffFormat::Json => format!(
            "{}\n",
            serde_json::json!({"group": store.group(), "generation": p.generation, "sha256": p.sha256, "hold": hold})
        ),
        super::DiffFormat::Human => format!(
            "published generation {} to group {:?} ({how})\n",
            p.generation,
            store.group()
        ),
    };
    Ok(super::emit(&out))
}

/// The usual diagnostics of a fleet config, its per-node variables as placeholders
/// (findings shown on standard error).
fn plan_with_placeholders(
    file: &str,
    placeholders: &[(String, String)],
) -> Result<crate::plan::Plan, CliError> {
    super::node_plan::plan_node(&super::node_plan::NodeInput {
        file,
        vars: placeholders,
        var_files: &[],
        inventory: None,
        root: None,
        color: super::Color::Auto,
        refuse_unused: true,
    })
}

async fn diff(args: &FleetArgs, store: &FleetEtcd, file: &str) -> Result<ExitCode, CliError> {
    let Ok(text) = String::from_utf8(read_config(file)?) else {
        return Err(CliError::Failed(format!("{file} is not UTF-8 text")));
    };
    // The usual diagnostics first (variables as placeholders); then each node's own values.
    let placeholders = crate::fleet::vars::placeholders(&text);
    plan_with_placeholders(file, &placeholders)?;
    let (published, nodes) = tokio::try_join!(store.published(), store.nodes())?;
    let plans = preview::PerNode::new(
        &text,
        published.as_ref().map(|(p, _)| p.text.as_str()),
        &nodes,
    );
    let p = preview::preview_with(&|r| plans.get(r), &nodes);
    Ok(match args.format {
        super::DiffFormat::Json => super::emit(&json(&p)),
        super::DiffFormat::Human => super::emit(&preview::render(&p)),
    })
}

/// The rollout as shown, its nodes named as `fleet status` names them (a hostname, with the
/// machine id where two nodes share it); a node without a record is shown by its id.
async fn rollout_text(args: &FleetArgs, store: &FleetEtcd, r: &Rollout) -> String {
    let names = if matches!(args.format, super::DiffFormat::Human)
        && !(r.admitted.is_empty() && r.not_staged.is_empty())
    {
        // The names are a courtesy: etcd failing here still shows the rollout, by ids.
        store
            .nodes()
            .await
            .map(|nodes| host_names(&nodes))
            .unwrap_or_default()
    } else {
        std::collections::HashMap::new()
    };
    show_rollout(args, r, &names)
}

fn show_rollout(
    args: &FleetArgs,
    r: &Rollout,
    names: &std::collections::HashMap<String, String>,
) -> String {
    let name = |id: &String| names.get(id).unwrap_or(id).clone();
    match args.format {
        super::DiffFormat::Json => json(r),
        super::DiffFormat::Human => {
            let mut t = format!("{}\n", r.summary());
            for id in &r.admitted {
                t.push_str(&format!("  {}: {}\n", name(id), r.node_state(id)));
            }
            for id in &r.not_staged {
                t.push_str(&format!("  {}: never staged it\n", name(id)));
            }
            t
        }
    }
}

async fn rollout_cmd(
    args: &FleetArgs,
    store: &FleetEtcd,
    command: &RolloutCommand,
) -> Result<ExitCode, CliError> {
    let shown = match command {
        RolloutCommand::Create {
            release,
            kind,
            max_parallel,
            gate,
            replace,
        } => {
            let ask = controller::Create {
                release: release.as_deref(),
                kind: *kind,
                max_parallel: *max_parallel,
                max_failures: *gate,
                replace: *replace,
            };
            controller::create(store, ask).await?
        }
        RolloutCommand::Show => match store.rollout().await? {
            Some((r, _)) => r,
            None => return Err(Error::NoRollout(store.group().to_string()).into()),
        },
        RolloutCommand::Apply { node_timeout } => {
            let mut say = |line: &str| eprintln!("kindling: rollout: {line}");
            let r = controller::run(store, Duration::from_secs(*node_timeout), &mut say).await?;
            let code = super::emit(&rollout_text(args, store, &r).await);
            if !matches!(r.phase, rollout::Phase::Completed) {
                return Err(CliError::Shown(Status::Failed));
            }
            return Ok(code);
        }
        RolloutCommand::Abort => controller::abort(store).await?,
        RolloutCommand::Rollback {
            nodes,
            failed,
            to,
            timeout,
        } => {
            let report = crate::fleet::rollback::rollback(
                store,
                nodes,
                *failed,
                *to,
                Duration::from_secs(*timeout),
            )
            .await?;
            let json = matches!(args.format, super::DiffFormat::Json);
            return super::fleet_recover::render(&report, *timeout, json);
        }
    };
    Ok(super::emit(&rollout_text(args, store, &shown).await))
}
