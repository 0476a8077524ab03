//! `kindling apply --from-SOURCE ...` and `kindling diff --from-SOURCE ...`: read user-data
//! and metadata where the node gets them (coreos-cloudinit's flags and `--oem` presets),
//! race the sources under one deadline, merge the metadata into the plan, and apply or
//! preview it. Installed as `coreos-cloudinit`, kindling takes that tool's command line
//! (`coreos_cloudinit::coreos_cloudinit_args` turns `-from-file=X` into `apply --root=/ --from-file=X`).
//!
//! Exit statuses: 0 applied (or an Ignition config, left to Ignition); 1 no source in time,
//! metadata that cannot be read or converted, or user-data that failed (the metadata part is
//! still applied, as coreos-cloudinit does; `--ignore-failure` makes that 0); 2 usage or I/O.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use super::from_args::{APPLY_UNLESS, FromArgs, SOURCE_IDS};
use super::{Color, DiffFormat, emit, use_color};
use crate::datasource::http::{Client, Policy};
use crate::datasource::{self as ds, Datasource};
use crate::diagnostic::Severity;
use crate::report;
use crate::root::Root;

/// Arguments of a datasource run.
pub(super) struct Run<'a> {
    pub from: &'a FromArgs,
    pub root: &'a std::path::Path,
    /// `diff` instead of `apply`.
    pub preview: bool,
    pub dry_run: bool,
    pub format: DiffFormat,
    pub color: Color,
    /// `diff --exit-code`.
    pub exit_code: bool,
}

fn usage(message: &str) -> ExitCode {
    eprintln!("kindling: {message}");
    ExitCode::from(2)
}

fn secs(value: f64, flag: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("{flag} {value} is not a positive number of seconds"))
}

/// The sources the flags name, in coreos-cloudinit's order.
fn sources(
    from: &FromArgs,
    root: &Root,
    policy: &Arc<Policy>,
) -> Result<Vec<Arc<dyn Datasource>>, String> {
    let plain = || Client::new(Arc::clone(policy), &[], false).map_err(|e| e.to_string());
    let proxied = || Client::new(Arc::clone(policy), &[], true).map_err(|e| e.to_string());
    let mut out: Vec<Arc<dyn Datasource>> = Vec::new();
    if let Some(p) = &from.from_file {
        out.push(Arc::new(ds::file::File { path: p.into() }));
    }
    if let Some(u) = &from.from_url {
        out.push(Arc::new(ds::url::Url {
            url: u.clone(),
            client: proxied()?,
        }));
    }
    if let Some(d) = &from.from_configdrive {
        out.push(Arc::new(ds::configdrive::ConfigDrive { root: d.into() }));
    }
    let mut ec2 = from.from_ec2_metadata.clone();
    if from.from_metadata_service && ec2.is_none() {
        ec2 = Some("http://169.254.169.254/".into());
    }
    if let Some(u) = ec2 {
        out.push(Arc::new(ds::ec2::Ec2::new(&u, plain()?)));
    }
    if let Some(u) = &from.from_gce_metadata {
        let client = Client::new(Arc::clone(policy), &[ds::gce::FLAVOR], false)
            .map_err(|e| e.to_string())?;
        out.push(Arc::new(ds::gce::Gce {
            root: u.clone(),
            client,
        }));
    }
    if let Some(u) = &from.from_digitalocean_metadata {
        out.push(Arc::new(ds::digitalocean::DigitalOcean {
            root: u.clone(),
            client: plain()?,
        }));
    }
    if let Some(d) = &from.from_waagent {
        out.push(Arc::new(ds::waagent::Waagent { root: d.into() }));
    }
    if let Some(u) = &from.from_packet_metadata {
        out.push(Arc::new(ds::packet::Packet {
            root: u.clone(),
            client: plain()?,
        }));
    }
    if from.from_proc_cmdline {
        let path = root
            .resolve("/proc/cmdline")
            .map_err(|e| format!("proc/cmdline: {e}"))?;
        out.push(Arc::new(ds::proc_cmdline::ProcCmdline {
            path,
            client: proxied()?,
        }));
    }
    let in_root = |node: &str| root.resolve(node).map_err(|e| format!("{node}: {e}"));
    if from.from_cloudsigma_metadata {
        out.push(Arc::new(ds::cloudsigma::CloudSigma::new(
            from.cloudsigma_serial.clone().into(),
            in_root("/sys/class/dmi/id")?,
            in_root("/run/systemd/netif/leases")?,
            in_root("/sys/class/net")?,
            Arc::clone(policy),
        )));
    }
    if from.from_vmware_guestinfo {
        out.push(Arc::new(ds::vmware_guestinfo::VmwareGuestinfo::new(
            from.vmware_rpctool.clone().into(),
            in_root("/sys/class/dmi/id")?,
            proxied()?,
        )));
    }
    if let Some(f) = &from.from_vmware_ovf_env {
        out.push(Arc::new(ds::vmware::VmwareOvf {
            path: f.into(),
            client: proxied()?,
        }));
    }
    Ok(out)
}

/// What the race and the fetches produced.
struct Fetched {
    kind: &'static str,
    location: String,
    user_data: Result<Vec<u8>, ds::FetchError>,
    metadata: Result<ds::Metadata, String>,
}

async fn fetch(
    sources: Vec<Arc<dyn Datasource>>,
    deadline: Instant,
    validate_only: bool,
) -> Result<(Fetched, Duration), ds::race::RaceError> {
    let total = deadline.saturating_duration_since(Instant::now());
    let every = if total <= Duration::from_secs(10) {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let progress = |line: &str| eprintln!("kindling: {line}");
    let i = ds::race::select(&sources, deadline, every, &progress).await?;
    let answered = Instant::now();
    let source = &sources[i];
    eprintln!("kindling: using {} ({})", source.kind(), source.location());
    let user_data = source.fetch_user_data().await;
    let metadata = if validate_only {
        Ok(ds::Metadata::default())
    } else {
        source.fetch_metadata().await.map_err(|e| e.to_string())
    };
    Ok((
        Fetched {
            kind: source.kind(),
            location: source.location(),
            user_data,
            metadata,
        },
        answered.elapsed(),
    ))
}

/// Run `apply`/`diff` with datasources.
pub(super) fn run(args: &Run<'_>) -> ExitCode {
    let from = match args.from.with_preset() {
        Ok(f) => f,
        Err(e) => return usage(&e),
    };
    if let Some(n) = &from.convert_netconf
        && !matches!(n.as_str(), "debian" | "packet" | "vmware")
    {
        return usage(&format!(
            "--convert-netconf {n:?} is not supported; supported options: debian, packet, vmware"
        ));
    }
    if from.ssh_key_name != crate::apply::accounts::KEY_NAME {
        return usage(&format!(
            "--ssh-key-name {:?}: kindling always manages authorized_keys.d/{}",
            from.ssh_key_name,
            crate::apply::accounts::KEY_NAME
        ));
    }
    let timeout = match secs(from.timeout, "--timeout") {
        Ok(d) => d,
        Err(e) => return usage(&e),
    };
    let http_timeout = match secs(from.http_timeout, "--http-timeout") {
        Ok(d) => d,
        Err(e) => return usage(&e),
    };
    let root = match super::open_root(args.root) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let deadline = Instant::now() + timeout;
    let mut policy = Policy::new(deadline);
    policy.request_timeout = http_timeout;
    if !from.allow_hosts.is_empty() {
        policy.allow_hosts = Some(from.allow_hosts.clone());
    }
    let policy = Arc::new(policy);
    let list = match sources(&from, &root, &policy) {
        Ok(l) if l.is_empty() => {
            return usage(
                "provide at least one of --from-file, --from-url, --from-configdrive, --from-ec2-metadata, --from-gce-metadata, --from-digitalocean-metadata, --from-packet-metadata, --from-proc-cmdline, --from-vmware-ovf-env, --from-vmware-guestinfo, --from-cloudsigma-metadata, --from-waagent or --oem",
            );
        }
        Ok(l) => l,
        Err(e) => return usage(&e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return usage(&format!("cannot start the async runtime: {e}")),
    };
    let (fetched, fetch_time) = match runtime.block_on(fetch(list, deadline, from.validate)) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kindling: {e}");
            return ExitCode::from(1);
        }
    };
    let started_plan = Instant::now();
    let name = format!("{} user-data ({})", fetched.kind, fetched.location);
    if from.validate {
        return validate_only(&name, fetched.user_data, args.color);
    }
    let metadata = match fetched.metadata {
        Ok(m) => m,
        Err(e) => {
            eprintln!(
                "kindling: cannot read the metadata of {}: {e}; nothing applied",
                fetched.kind
            );
            return ExitCode::from(1);
        }
    };
    let read = |path: &str| match root.observe(path) {
        Ok(crate::root::Observed::File { bytes, .. }) => {
            Some(String::from_utf8_lossy(&bytes).into_owned())
        }
        _ => None,
    };
    let etc_environment = read("/etc/environment").unwrap_or_default();
    let root_env = ds::env::parse_env_file(&etc_environment);
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| root_env.get(k).cloned())
    };
    let update_conf_base =
        read("/etc/coreos/update.conf").or_else(|| read("/usr/share/coreos/update.conf"));
    let input = ds::merge::Input {
        name: name.clone(),
        user_data: fetched.user_data,
        metadata,
        convert_netconf: from.convert_netconf.clone(),
        workspace: from.workspace.clone(),
        env: &env,
        etc_environment,
        update_conf_base,
    };
    let outcome = match ds::merge::build(input) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kindling: the metadata's network config: {e}; nothing applied");
            return ExitCode::from(1);
        }
    };
    if let (Some(c), Some(source)) = (&outcome.compiled, &outcome.source) {
        print_findings(c, source, args.color);
    }
    for w in &outcome.warnings {
        eprintln!("kindling: warning: {w}");
    }
    if outcome.ignition {
        eprintln!(
            "kindling: the user-data is an Ignition config; it is left to Ignition, nothing applied"
        );
        return ExitCode::SUCCESS;
    }
    let status = finish(args, &root, &outcome.plan);
    // For scripts/bench: from the winning source's answer to a converged root.
    if std::env::var_os("KINDLING_DATASOURCE_TIMING").is_some() {
        let plan_apply = started_plan.elapsed();
        eprintln!(
            "kindling: timing: answer-to-converged {:.3} ms (fetch {:.3} ms, plan+apply {:.3} ms)",
            (fetch_time + plan_apply).as_secs_f64() * 1000.0,
            fetch_time.as_secs_f64() * 1000.0,
            plan_apply.as_secs_f64() * 1000.0
        );
    }
    if status != ExitCode::SUCCESS {
        return status;
    }
    match outcome.failure {
        Some(why) => {
            eprintln!("kindling: {why} (the metadata part was applied)");
            if from.ignore_failure {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        None => ExitCode::SUCCESS,
    }
}

/// The compile's findings, against the user-data as fetched. The generic "this variable may
/// be empty on some nodes" warning is left out: here the values are known, and `merge` warns
/// about exactly the ones nothing provides.
fn print_findings(c: &crate::compile::Compiled, source: &crate::source::SourceFile, color: Color) {
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    // Notes about single parts of a multipart user-data (an Ignition part left to Ignition,
    // a part whose type was guessed) are worth a line at boot too.
    let part_note = |f: &crate::diagnostic::Finding| {
        f.code() == crate::rules::source_multipart::RULE.code && f.span.start > 0
    };
    for f in c
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning || part_note(f))
        .filter(|f| f.code() != crate::rules::substitution_variable::RULE.code)
    {
        eprint!("{}", report::human::render_finding(source, f, style));
        eprintln!();
    }
}

fn validate_only(name: &str, user_data: Result<Vec<u8>, ds::FetchError>, color: Color) -> ExitCode {
    let bytes = match user_data {
        Ok(b) => b,
        Err(e) => {
            eprintln!("kindling: cannot fetch the user-data: {e}");
            return ExitCode::from(1);
        }
    };
    let v = crate::validate(name, bytes);
    let style = report::human::Style {
        color: use_color(color, std::io::stderr().is_terminal()),
        width: 100,
    };
    for f in v
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        eprint!("{}", report::human::render_finding(&v.source, f, style));
        eprintln!();
    }
    if v.has(Severity::Warning) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    }
}

/// Apply or preview the merged plan, printing what `apply`/`diff` print.
fn finish(args: &Run<'_>, root: &Root, plan: &crate::plan::Plan) -> ExitCode {
    let out_color = use_color(args.color, std::io::stdout().is_terminal());
    if args.preview {
        return match crate::apply::diff(root, plan) {
            Ok(d) => {
                let text = match args.format {
                    DiffFormat::Human => crate::diff::render(&d, out_color),
                    DiffFormat::Json => crate::diff::render_json(&d),
                };
                let written = emit(&text);
                if written != ExitCode::SUCCESS {
                    written
                } else if args.exit_code && !d.is_empty() {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                }
            }
            Err(e) => usage(&e.to_string()),
        };
    }
    match crate::apply::apply(root, plan, args.dry_run) {
        Ok(report) => {
            let text = match args.format {
                DiffFormat::Json => {
                    let mut t = serde_json::to_string_pretty(&report).unwrap_or_default();
                    t.push('\n');
                    t
                }
                DiffFormat::Human => {
                    let mut t = crate::diff::render(&report.diff, out_color);
                    if !args.dry_run {
                        t.push_str(&format!(
                            "wrote {} file(s), ran {} action(s)",
                            report.written,
                            report.ran.len()
                        ));
                        if !report.pending.is_empty() {
                            t.push_str(&format!(
                                ", {} pending ({} is not the running system)",
                                report.pending.len(),
                                root.path().display()
                            ));
                        }
                        t.push('\n');
                    }
                    t
                }
            };
            emit(&text)
        }
        Err(e) => usage(&e.to_string()),
    }
}
