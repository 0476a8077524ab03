//! The vocabulary every datasource shares: the [`Datasource`] trait (availability, user-data,
//! metadata), what a source answers ([`Availability`], [`Metadata`]), why a fetch fails
//! ([`FetchError`]), the size limits that bound a hostile answer, and the small readers the
//! local sources use (a bounded file, an IP address, a DMI field inside the root).

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use super::network::NetworkConfig;

/// A boxed future, so the trait stays object-safe (sources are raced as `dyn Datasource`).
pub type Fut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Largest user-data a datasource hands over (4 MiB). Every cloud caps user-data far below
/// this (EC2 16 KiB, GCE 256 KiB, Azure and OpenStack 64 KiB); it bounds a hostile answer.
pub const MAX_USER_DATA: usize = 4 * 1024 * 1024;

/// Largest metadata document or attribute read (1 MiB).
pub const MAX_METADATA: usize = 1024 * 1024;

/// Whether a source can answer now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Availability {
    /// It can: fetch from it.
    Available,
    /// Not yet (a missing mount, a metadata service that does not answer yet); the reason.
    NotYet(String),
    /// Never in this run: waiting cannot help (no `cloud-config-url` on the command line,
    /// a missing OVF file, a refused address); the reason.
    Never(String),
}

impl Availability {
    /// `Available` when what the source reads is `present`, else `missing()`.
    pub fn if_present(present: bool, missing: impl FnOnce() -> Availability) -> Availability {
        if present {
            Availability::Available
        } else {
            missing()
        }
    }
}

/// Why a fetch failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The answer is not what the source should give (malformed JSON, XML, a bad IP).
    #[error("{0}")]
    Malformed(String),
    /// The source could not be read within its budget (5xx, timeouts, too large).
    #[error("{0}")]
    Unreachable(String),
    /// Refused by policy (`--allow-hosts`, a scheme that is not http/https).
    #[error("{0}")]
    Refused(String),
}

/// What a source says about the node, besides user-data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    /// `$public_ipv4`.
    pub public_ipv4: Option<IpAddr>,
    /// `$private_ipv4`.
    pub private_ipv4: Option<IpAddr>,
    /// `$public_ipv6`.
    pub public_ipv6: Option<IpAddr>,
    /// `$private_ipv6`.
    pub private_ipv6: Option<IpAddr>,
    /// The hostname (used when user-data names none).
    pub hostname: Option<String>,
    /// SSH keys for `core`, as (name, key), in the source's order.
    pub ssh_keys: Vec<(String, String)>,
    /// Network configuration, converted only with `--convert-netconf`.
    pub network: Option<NetworkConfig>,
}

impl Metadata {
    /// Set the hostname (unless empty) and the SSH keys, each named by its index, as the
    /// DigitalOcean and Packet documents give them.
    pub fn set_host_and_keys(&mut self, hostname: String, keys: Vec<String>) {
        self.hostname = (!hostname.is_empty()).then_some(hostname);
        self.ssh_keys = keys
            .into_iter()
            .enumerate()
            .map(|(i, k)| (i.to_string(), k))
            .collect();
    }

    /// The value of a substitution variable (`public_ipv4`, ...), if the source gave one.
    #[must_use]
    pub fn ip(&self, variable: &str) -> Option<IpAddr> {
        match variable {
            "public_ipv4" => self.public_ipv4,
            "private_ipv4" => self.private_ipv4,
            "public_ipv6" => self.public_ipv6,
            "private_ipv6" => self.private_ipv6,
            _ => None,
        }
    }
}

/// What a source is, for messages and the race: its kind, where it reads, and whether
/// waiting can make it available when it is not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    /// coreos-cloudinit's `Type()` (`ec2-metadata-service`, `cloud-drive`, ...).
    pub kind: &'static str,
    /// Where it reads, for messages (a path or URL).
    pub location: String,
    /// Whether waiting can make an unavailable source available (false only for the local
    /// file, the kernel command line and both VMware sources, as in coreos-cloudinit).
    pub changes: bool,
}

impl Identity {
    /// A source that may become available later (a mount, a metadata service).
    pub fn waiting(kind: &'static str, location: impl std::fmt::Display) -> Self {
        Identity {
            kind,
            location: location.to_string(),
            changes: true,
        }
    }

    /// A source whose availability is decided at once: waiting cannot help.
    pub fn once(kind: &'static str, location: impl std::fmt::Display) -> Self {
        Identity {
            changes: false,
            ..Identity::waiting(kind, location)
        }
    }
}

/// One place a node gets its config from.
pub trait Datasource: Send + Sync {
    /// What it is (see [`Identity`]).
    fn identity(&self) -> Identity;
    /// coreos-cloudinit's `Type()`.
    fn kind(&self) -> &'static str {
        self.identity().kind
    }
    /// Where it reads, for messages.
    fn location(&self) -> String {
        self.identity().location
    }
    /// Whether waiting can make an unavailable source available.
    fn availability_changes(&self) -> bool {
        self.identity().changes
    }
    /// Whether it can answer now. Cheap: one request or one `stat`, no retries.
    fn availability(&self) -> Fut<'_, Availability>;
    /// The raw user-data (empty when the source has none).
    fn fetch_user_data(&self) -> Fut<'_, Result<Vec<u8>, FetchError>>;
    /// The metadata (none, by default: a source of user-data only).
    fn fetch_metadata(&self) -> Fut<'_, Result<Metadata, FetchError>> {
        Box::pin(async move { Ok(Metadata::default()) })
    }
}

/// A JSON metadata document read from `from`; `None` when the service gave none (an empty
/// body).
///
/// # Errors
/// When it is not the expected JSON.
pub fn json_document<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    from: &str,
) -> Result<Option<T>, FetchError> {
    if bytes.is_empty() {
        return Ok(None);
    }
    serde_json::from_slice(bytes)
        .map(Some)
        .map_err(|e| FetchError::Malformed(format!("{from}: {e}")))
}

/// Parse an IP address as Go's `net.ParseIP` would accept it (surrounding white space
/// removed); `None` for empty text.
///
/// # Errors
/// When the text is not an address.
pub fn parse_ip(text: &str, what: &str) -> Result<Option<IpAddr>, FetchError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    t.parse()
        .map(Some)
        .map_err(|_| FetchError::Malformed(format!("{what}: {t:?} is not an IP address")))
}

/// Read a file of a local source, bounded; a missing file is empty (as coreos-cloudinit's
/// `tryReadFile`). It must be a regular file, opened without blocking
/// ([`crate::source::read_regular`]): a FIFO, a socket or a device is refused at once rather
/// than waited on past the run's deadline.
///
/// # Errors
/// When the file cannot be read, is not a regular file or is larger than `limit`.
pub fn read_bounded(path: &std::path::Path, limit: usize) -> Result<Vec<u8>, FetchError> {
    match crate::source::read_regular(path, limit as u64) {
        Ok(bytes) => Ok(bytes),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData
            ) =>
        {
            Err(FetchError::Malformed(e.to_string()))
        }
        Err(e) => Err(FetchError::Unreachable(format!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// [`read_bounded`] for a file that must stay below `dir` (a config drive's files): its real
/// path, symbolic links followed, must be below `dir`'s real path. A missing file is empty.
///
/// # Errors
/// As [`read_bounded`], and when a link leads outside `dir`.
pub fn read_bounded_within(
    dir: &std::path::Path,
    path: &std::path::Path,
    limit: usize,
) -> Result<Vec<u8>, FetchError> {
    let real = match std::fs::canonicalize(path) {
        Ok(real) => real,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(FetchError::Unreachable(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    let inside = std::fs::canonicalize(dir).is_ok_and(|dir| real.starts_with(dir));
    if !inside {
        return Err(FetchError::Malformed(format!(
            "{} leads outside {} through a symbolic link; not read",
            path.display(),
            dir.display()
        )));
    }
    // The real path: no link is followed after the check.
    read_bounded(&real, limit)
}

/// A DMI field of the node (`field` in `dmi_dir`, the root's `sys/class/dmi/id`), trimmed;
/// `None` when it cannot be read. Read inside the root, so a test root says which hardware
/// the node is. Bounded at 4 KiB: real DMI strings are a few dozen bytes.
#[must_use]
pub fn dmi(dmi_dir: &std::path::Path, field: &str) -> Option<String> {
    read_bounded(&dmi_dir.join(field), 4096)
        .ok()
        .filter(|b| !b.is_empty())
        .map(|b| String::from_utf8_lossy(&b).trim().to_string())
}
