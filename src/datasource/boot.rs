//! The boot-time run of `apply --from-...` and `diff --from-...` up to its plan: the flags
//! checked (with the `--oem` preset filled in), the sources built, raced under one deadline
//! and the winner's user-data and metadata fetched, then merged with what the root holds
//! (`/etc/environment`, update.conf) into one plan ([`merge`]). The command line renders
//! the findings and applies or previews the plan.
//!
//! It never writes, and every wait ends at the `--timeout` deadline. Progress lines (the
//! race's, then the source it uses) go to the caller's `progress`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::flags::{FromArgs, UnknownOem};
use super::http::Policy;
use super::merge::{self, Outcome};
use super::race::{self, RaceError};
use super::sources::{SourceError, sources};
use super::{Datasource, FetchError, Metadata, env, netconf};
use crate::apply::accounts::KEY_NAME;
use crate::root::{Observed, Root, RootError};

/// Why a boot-time run stopped before its plan.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `--oem` names no known preset.
    #[error(transparent)]
    Oem(#[from] UnknownOem),
    /// `--convert-netconf` names no converter.
    #[error("--convert-netconf {0:?} is not supported; supported options: debian, packet, vmware")]
    Converter(String),
    /// `--ssh-key-name` other than the one kindling manages.
    #[error("--ssh-key-name {0:?}: kindling always manages authorized_keys.d/{KEY_NAME}")]
    SshKeyName(String),
    /// A duration flag that is not a positive number of seconds.
    #[error("{flag} {value} is not a positive number of seconds")]
    Seconds {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: f64,
    },
    /// The root cannot be opened.
    #[error(transparent)]
    Root(#[from] RootError),
    /// A source cannot be set up.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// No source flag is given (only a preset that names none).
    #[error(
        "provide at least one of --from-file, --from-url, --from-configdrive, --from-ec2-metadata, --from-gce-metadata, --from-digitalocean-metadata, --from-packet-metadata, --from-proc-cmdline, --from-vmware-ovf-env, --from-vmware-guestinfo, --from-cloudsigma-metadata, --from-waagent or --oem"
    )]
    NoSource,
    /// The async runtime cannot start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// No source answered in time.
    #[error(transparent)]
    Race(#[from] RaceError),
    /// The winning source's metadata cannot be read: nothing is applied.
    #[error("cannot read the metadata of {kind}: {source}; nothing applied")]
    Metadata {
        /// The source's kind.
        kind: &'static str,
        /// Why.
        source: FetchError,
    },
    /// The metadata's network config does not convert: nothing is applied.
    #[error("the metadata's network config: {0}; nothing applied")]
    NetworkConfig(#[from] netconf::Error),
}

impl Error {
    /// Whether the node's sources or data are at fault (no source in time, metadata that
    /// cannot be read or converted), rather than the command line or the machine.
    #[must_use]
    pub fn is_data(&self) -> bool {
        matches!(
            self,
            Error::Race(_) | Error::Metadata { .. } | Error::NetworkConfig(_)
        )
    }
}

/// What a run produced.
#[derive(Debug)]
pub enum Prepared {
    /// `--validate`: only the user-data, to validate.
    Validate {
        /// A name for it in messages.
        name: String,
        /// The user-data, or why it could not be fetched.
        user_data: Result<Vec<u8>, FetchError>,
    },
    /// The merged plan, for the root.
    Merged(Box<Merged>),
}

/// A merged plan with its root and timings.
#[derive(Debug)]
pub struct Merged {
    /// The root it is for.
    pub root: Root,
    /// The plan and what to say about it.
    pub outcome: Outcome,
    /// From the winning source's answer to the end of its fetch.
    pub fetch_time: Duration,
    /// When planning began (after the fetch).
    pub started_plan: Instant,
}

/// What the race and the fetches produced.
struct Fetched {
    kind: &'static str,
    location: String,
    user_data: Result<Vec<u8>, FetchError>,
    metadata: Result<Metadata, FetchError>,
}

/// Check the flags, race their sources, fetch and merge (see the module's comment).
///
/// # Errors
/// See [`Error`]; [`Error::is_data`] tells the node's problems from the command line's.
pub fn prepare(
    flags: &FromArgs,
    root: &Path,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<Prepared, Error> {
    let from = flags.with_preset()?;
    if let Some(n) = &from.convert_netconf
        && !matches!(n.as_str(), "debian" | "packet" | "vmware")
    {
        return Err(Error::Converter(n.clone()));
    }
    if from.ssh_key_name != KEY_NAME {
        return Err(Error::SshKeyName(from.ssh_key_name.clone()));
    }
    let timeout = secs(from.timeout, "--timeout")?;
    let http_timeout = secs(from.http_timeout, "--http-timeout")?;
    let root = Root::new(root)?;
    let deadline = Instant::now() + timeout;
    let mut policy = Policy::new(deadline);
    policy.request_timeout = http_timeout;
    if !from.allow_hosts.is_empty() {
        policy.allow_hosts = Some(from.allow_hosts.clone());
    }
    let list = sources(&from, &root, &Arc::new(policy))?;
    if list.is_empty() {
        return Err(Error::NoSource);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    let (fetched, fetch_time) = runtime.block_on(fetch(list, deadline, from.validate, progress))?;
    let started_plan = Instant::now();
    let name = format!("{} user-data ({})", fetched.kind, fetched.location);
    if from.validate {
        return Ok(Prepared::Validate {
            name,
            user_data: fetched.user_data,
        });
    }
    let metadata = fetched.metadata.map_err(|source| Error::Metadata {
        kind: fetched.kind,
        source,
    })?;
    let outcome = merge_with_root(&root, &from, name, fetched.user_data, metadata)?;
    Ok(Prepared::Merged(Box::new(Merged {
        root,
        outcome,
        fetch_time,
        started_plan,
    })))
}

fn secs(value: f64, flag: &'static str) -> Result<Duration, Error> {
    Duration::try_from_secs_f64(value)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or(Error::Seconds { flag, value })
}

/// Race the sources, then fetch the winner's user-data and (unless only validating) its
/// metadata; returns them with the time from the answer to the end of the fetch.
async fn fetch(
    sources: Vec<Arc<dyn Datasource>>,
    deadline: Instant,
    validate_only: bool,
    progress: &(dyn Fn(&str) + Sync),
) -> Result<(Fetched, Duration), RaceError> {
    let total = deadline.saturating_duration_since(Instant::now());
    let every = if total <= Duration::from_secs(10) {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(5)
    };
    let i = race::select(&sources, deadline, every, progress).await?;
    let answered = Instant::now();
    let source = &sources[i];
    progress(&format!("using {} ({})", source.kind(), source.location()));
    let user_data = source.fetch_user_data().await;
    let metadata = if validate_only {
        Ok(Metadata::default())
    } else {
        source.fetch_metadata().await
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

/// The user-data and metadata merged with what the root holds: its `/etc/environment`
/// (also the `COREOS_*` fallback after the process environment) and update.conf.
fn merge_with_root(
    root: &Root,
    from: &FromArgs,
    name: String,
    user_data: Result<Vec<u8>, FetchError>,
    metadata: Metadata,
) -> Result<Outcome, netconf::Error> {
    let read = |path: &str| match root.observe(path) {
        Ok(Observed::File { bytes, .. }) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        _ => None,
    };
    let etc_environment = read("/etc/environment").unwrap_or_default();
    let root_env = env::parse_env_file(&etc_environment);
    let env = |k: &str| {
        std::env::var(k)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| root_env.get(k).cloned())
    };
    let update_conf_base =
        read("/etc/coreos/update.conf").or_else(|| read("/usr/share/coreos/update.conf"));
    merge::build(merge::Input {
        name,
        user_data,
        metadata,
        convert_netconf: from.convert_netconf.clone(),
        workspace: from.workspace.clone(),
        env: &env,
        etc_environment,
        update_conf_base,
    })
}
