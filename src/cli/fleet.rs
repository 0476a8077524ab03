//! `kindling fleet status|publish|diff|rollout`: the fleet in etcd (see `crate::fleet`).
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use crate::fleet::controller;
use crate::fleet::listing::host_names;
use crate::fleet::rollout::{self, Kind, Rollout};
use crate::fleet::{FleetEtcd, Mirror, preview, view};
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
    #[arg(long, global = true, value_name = "FILE")]
    pub etcd_cafile: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for the etcd connection.
    #[arg(long, global = true, value_name = "FILE")]
    pub etcd_certfile: Option<std::path::PathBuf>,
    /// Client key (PEM) for the etcd connection.
    #[arg(long, global = true, value_name = "FILE")]
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
    /// Orchestrated rollout of a held config or of an OS release: create, show, apply,
    /// abort, rollback.
    Rollout {
        /// What to do.
        #[command(subcommand)]
        command: RolloutCommand,
    },
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

fn parse_gate(text: &str) -> Result<usize, String> {
    match text {
        "strict" => Ok(0),
        other => other
            .strip_prefix("relaxed:")
            .and_then(|k| k.parse().ok())
            .ok_or_else(|| format!("{other:?} is not a gate: use strict or relaxed:K")),
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

fn fail(code: u8, message: &str) -> ExitCode {
    eprintln!("kindling: {message}");
    ExitCode::from(code)
}

pub(super) fn run(args: &FleetArgs) -> ExitCode {
    let rt = match super::agent::runtime() {
        Ok(rt) => rt,
        Err(code) => return code,
    };
    rt.block_on(async {
        let store = match FleetEtcd::connect(&config(args), &args.group).await {
            Ok(s) => s,
            Err(e) => return fail(2, &format!("cannot reach etcd at {}: {e}", args.endpoint)),
        };
        match &args.command {
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
        }
    })
}

async fn build_view(store: &FleetEtcd) -> Result<view::View, String> {
    let published = store.published().await?.map_or(0, |(p, _)| p.generation);
    let nodes = store.nodes().await?;
    Ok(view::build(store.group(), published, &nodes))
}

fn show_view(args: &FleetArgs, v: &view::View) -> String {
    match args.format {
        super::DiffFormat::Json => {
            let mut t = serde_json::to_string_pretty(v).unwrap_or_default();
            t.push('\n');
            t
        }
        super::DiffFormat::Human => view::render(v),
    }
}

async fn status(
    args: &FleetArgs,
    store: &FleetEtcd,
    watch: bool,
    limit: Option<Duration>,
) -> ExitCode {
    if !watch {
        return match build_view(store).await {
            Ok(v) => super::emit(&show_view(args, &v)),
            Err(e) => fail(2, &e),
        };
    }
    // Read once, then redraw from the changes the watch brings (see `crate::fleet::mirror`).
    let mut fleet = match Mirror::open(store).await {
        Ok(m) => m,
        Err(e) => return fail(2, &e),
    };
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
        match fleet.changed(deadline).await {
            Ok(true) => {}
            Ok(false) => return ExitCode::SUCCESS,
            Err(e) => return fail(2, &e),
        }
        // Changes come in bursts (a wave of nodes): redraw at most 5 times a second.
        tokio::time::sleep_until(
            deadline.min(tokio::time::Instant::now() + Duration::from_millis(200)),
        )
        .await;
        if let Err(e) = fleet.catch_up().await {
            return fail(2, &e);
        }
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

async fn publish(
    args: &FleetArgs,
    store: &FleetEtcd,
    file: &str,
    hold: bool,
    generation: Option<u64>,
) -> ExitCode {
    // The text is read twice (here, and by the diagnostics): standard input cannot be.
    if file == "-" {
        return fail(2, "the config must be a file, not standard input (-)");
    }
    let bytes = match crate::source::read(file) {
        Ok(b) => b,
        Err(e) => return fail(2, &e.to_string()),
    };
    if bytes.len() > crate::fleet::keys::MAX_CONFIG_BYTES {
        return fail(
            1,
            &format!(
                "{file} is {} bytes; a published config may have at most {} bytes; nothing published",
                bytes.len(),
                crate::fleet::keys::MAX_CONFIG_BYTES
            ),
        );
    }
    // The usual diagnostics; a config with errors is refused before etcd is touched. Its
    // `$private_ipv4`-style variables are each node's own: checked here with placeholders.
    let placeholders = crate::fleet::vars::placeholders(&String::from_utf8_lossy(&bytes));
    if let Err(code) = super::plan_for_vars(file, &placeholders, &[], None, super::Color::Auto) {
        eprintln!("kindling: nothing published");
        return code;
    }
    let Ok(text) = String::from_utf8(bytes) else {
        return fail(1, &format!("{file} is not UTF-8 text; nothing published"));
    };
    match store.publish(&text, hold, generation).await {
        Ok(p) => {
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
            super::emit(&out)
        }
        Err(e @ crate::fleet::etcd::PublishError::Etcd(_)) => {
            fail(2, &format!("{e}; nothing published"))
        }
        Err(e) => fail(1, &format!("{e}; nothing published")),
    }
}

async fn diff(args: &FleetArgs, store: &FleetEtcd, file: &str) -> ExitCode {
    // The text is read twice (here, and by the diagnostics): standard input cannot be.
    if file == "-" {
        return fail(2, "the config must be a file, not standard input (-)");
    }
    let text = match crate::source::read(file).map(String::from_utf8) {
        Ok(Ok(t)) => t,
        Ok(Err(_)) => return fail(1, &format!("{file} is not UTF-8 text")),
        Err(e) => return fail(2, &e.to_string()),
    };
    // The usual diagnostics first (variables as placeholders); then each node's own values.
    let placeholders = crate::fleet::vars::placeholders(&text);
    if let Err(code) = super::plan_for_vars(file, &placeholders, &[], None, super::Color::Auto) {
        return code;
    }
    let (published, nodes) = match tokio::try_join!(store.published(), store.nodes()) {
        Ok(x) => x,
        Err(e) => return fail(2, &e),
    };
    let plans = preview::PerNode::new(
        &text,
        published.as_ref().map(|(p, _)| p.text.as_str()),
        &nodes,
    );
    let p = preview::preview_with(&|r| plans.get(r), &nodes);
    match args.format {
        super::DiffFormat::Json => {
            let mut t = serde_json::to_string_pretty(&p).unwrap_or_default();
            t.push('\n');
            super::emit(&t)
        }
        super::DiffFormat::Human => super::emit(&preview::render(&p)),
    }
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
        super::DiffFormat::Json => {
            let mut t = serde_json::to_string_pretty(r).unwrap_or_default();
            t.push('\n');
            t
        }
        super::DiffFormat::Human => {
            let mut t = format!("{}\n", r.summary());
            let done = if r.release.is_some() {
                "updated"
            } else {
                "applied"
            };
            for id in &r.admitted {
                let state = if r.succeeded.contains(id) {
                    done.to_string()
                } else if let Some(g) = r.rolled_back.get(id) {
                    format!(
                        "failed ({}), rolled back to generation {g}",
                        r.failed.get(id).map_or("", String::as_str)
                    )
                } else if let Some(why) = r.failed.get(id) {
                    format!("failed: {why}")
                } else {
                    "in flight".to_string()
                };
                t.push_str(&format!("  {}: {state}\n", name(id)));
            }
            for id in &r.not_staged {
                t.push_str(&format!("  {}: never staged it\n", name(id)));
            }
            t
        }
    }
}

async fn rollout_cmd(args: &FleetArgs, store: &FleetEtcd, command: &RolloutCommand) -> ExitCode {
    match command {
        RolloutCommand::Create {
            release: Some(version),
            kind,
            max_parallel,
            gate,
            replace,
        } => {
            if version.is_empty()
                || version.len() > 128
                || !version
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "._+-".contains(c))
            {
                return fail(
                    1,
                    &format!(
                        "{version:?} is not a release version (letters, digits, '.', '_', '+', '-')"
                    ),
                );
            }
            let revision = match free_rollout_slot(store, *replace).await {
                Ok(rev) => rev,
                Err(code) => return code,
            };
            let r = Rollout::new_release(version, *kind, *max_parallel, *gate);
            match store.put_rollout(&r, revision).await {
                Ok(true) => super::emit(&rollout_text(args, store, &r).await),
                Ok(false) => fail(1, "another rollout was created at the same time"),
                Err(e) => fail(2, &e),
            }
        }
        RolloutCommand::Create {
            release: None,
            kind,
            max_parallel,
            gate,
            replace,
        } => {
            let published = match store.published().await {
                Ok(Some((p, _))) => p,
                Ok(None) => {
                    return fail(
                        1,
                        "nothing is published in this group; publish with --hold first",
                    );
                }
                Err(e) => return fail(2, &e),
            };
            if !published.hold {
                return fail(
                    1,
                    &format!(
                        "generation {} was published without --hold, so every node applies it already; publish with --hold to roll out",
                        published.generation
                    ),
                );
            }
            let revision = match store.rollout().await {
                Ok(Some((r, _))) if !r.is_finished() => {
                    return fail(
                        1,
                        &format!("a rollout is in progress ({}); abort it first", r.summary()),
                    );
                }
                Ok(Some((_, rev))) if *replace => rev,
                Ok(Some((r, _))) => {
                    return fail(
                        1,
                        &format!(
                            "a finished rollout exists ({}); pass --replace",
                            r.summary()
                        ),
                    );
                }
                Ok(None) => 0,
                Err(e) => return fail(2, &e),
            };
            let r = Rollout::new(published.generation, *kind, *max_parallel, *gate);
            match store.put_rollout(&r, revision).await {
                Ok(true) => super::emit(&rollout_text(args, store, &r).await),
                Ok(false) => fail(1, "another rollout was created at the same time"),
                Err(e) => fail(2, &e),
            }
        }
        RolloutCommand::Show => match store.rollout().await {
            Ok(Some((r, _))) => super::emit(&rollout_text(args, store, &r).await),
            Ok(None) => fail(1, &format!("no rollout in group {:?}", store.group())),
            Err(e) => fail(2, &e),
        },
        RolloutCommand::Apply { node_timeout } => {
            let mut say = |line: &str| eprintln!("kindling: rollout: {line}");
            match controller::run(store, Duration::from_secs(*node_timeout), &mut say).await {
                Ok(r) => {
                    let code = super::emit(&rollout_text(args, store, &r).await);
                    if matches!(r.phase, rollout::Phase::Completed) {
                        code
                    } else {
                        ExitCode::from(1)
                    }
                }
                Err(e) => fail(2, &e),
            }
        }
        RolloutCommand::Abort => match controller::abort(store).await {
            Ok(r) => super::emit(&rollout_text(args, store, &r).await),
            Err(e) => fail(2, &e),
        },
        RolloutCommand::Rollback {
            nodes,
            failed,
            to,
            timeout,
        } => {
            super::fleet_recover::rollback(
                store,
                nodes,
                *failed,
                *to,
                Duration::from_secs(*timeout),
                matches!(args.format, super::DiffFormat::Json),
            )
            .await
        }
    }
}

/// The rollout key's revision when a new rollout may be written there (0: none); a rollout
/// in progress is never replaced, a finished one only with `--replace`.
async fn free_rollout_slot(store: &FleetEtcd, replace: bool) -> Result<i64, ExitCode> {
    match store.rollout().await {
        Ok(Some((r, _))) if !r.is_finished() => Err(fail(
            1,
            &format!("a rollout is in progress ({}); abort it first", r.summary()),
        )),
        Ok(Some((_, rev))) if replace => Ok(rev),
        Ok(Some((r, _))) => Err(fail(
            1,
            &format!(
                "a finished rollout exists ({}); pass --replace",
                r.summary()
            ),
        )),
        Ok(None) => Ok(0),
        Err(e) => Err(fail(2, &e)),
    }
}
