//! Where the lock is and how to reach it: locksmithd's settings (update.conf's
//! `LOCKSMITHD_*` variables, locksmithctl's flags) plus kindling's backend choice.

use std::path::PathBuf;
use std::time::Duration;

use super::LockError;

/// locksmith's default endpoints.
pub const DEFAULT_ENDPOINTS: &str = "http://127.0.0.1:2379,http://127.0.0.1:4001";

/// Which backend holds the semaphore.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Default,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// etcd's v2 keys API, locksmith's key and JSON (etcd <= 3.5 with `--enable-v2`).
    #[default]
    Etcd2,
    /// etcd's v3 API, Airlock's key and JSON, holders' liveness on leases.
    Etcd3,
    /// A FleetLock server (Airlock, `kindling lock serve`).
    #[value(name = "fleetlock")]
    FleetLock,
}

/// TLS files for the etcd connection (each optional on its own, unlike locksmith, which loads
/// all three whenever one is set: coreos/bugs#1549).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// CA certificates (PEM) to trust besides the system's.
    pub ca: Option<PathBuf>,
    /// Client certificate (PEM); needs `key`.
    pub cert: Option<PathBuf>,
    /// Client key (PEM); needs `cert`.
    pub key: Option<PathBuf>,
}

/// Everything needed to reach the lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockConfig {
    /// The backend.
    pub backend: Backend,
    /// etcd endpoints (tried in order) or the FleetLock server's base URL (first one).
    pub endpoints: Vec<String>,
    /// The group: `""` is locksmith's default semaphore; FleetLock and etcd v3 call it
    /// `default` (Airlock's and Zincati's name).
    pub group: String,
    /// TLS files.
    pub tls: TlsFiles,
    /// etcd basic auth (v2) or user authentication (v3).
    pub auth: Option<(String, String)>,
    /// etcd v3 only: keep each hold alive on a lease of this TTL, so that a holder that dies
    /// and does not come back within it can be removed by a contender. `None`: holds never
    /// expire (locksmith's and Airlock's behaviour; what `kindling lock lock` does).
    pub lease_ttl: Option<Duration>,
    /// Time limit of one request.
    pub timeout: Duration,
}

impl Default for LockConfig {
    fn default() -> Self {
        LockConfig {
            backend: Backend::Etcd2,
            endpoints: split_endpoints(DEFAULT_ENDPOINTS),
            group: String::new(),
            tls: TlsFiles::default(),
            auth: None,
            lease_ttl: None,
            timeout: Duration::from_secs(10),
        }
    }
}

/// A comma-separated endpoint list, blanks dropped.
#[must_use]
pub fn split_endpoints(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(str::to_string)
        .collect()
}

impl LockConfig {
    /// locksmithd's configuration from its environment (update.conf): `LOCKSMITHD_ENDPOINT`,
    /// `LOCKSMITHD_GROUP`, `LOCKSMITHD_ETCD_CAFILE`, `..._CERTFILE`, `..._KEYFILE`,
    /// `..._USERNAME`, `..._PASSWORD`; unset or empty values keep the defaults. The backend
    /// is etcd v2 unless `KINDLING_LOCK_BACKEND` is `etcd3` or `fleetlock`.
    ///
    /// # Errors
    /// When `KINDLING_LOCK_BACKEND` names no backend.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Result<LockConfig, LockError> {
        let var = |name: &str| get(name).filter(|v| !v.is_empty());
        let mut config = LockConfig::default();
        if let Some(backend) = var("KINDLING_LOCK_BACKEND") {
            config.backend = match backend.as_str() {
                "etcd2" => Backend::Etcd2,
                "etcd3" => Backend::Etcd3,
                "fleetlock" => Backend::FleetLock,
                other => {
                    return Err(LockError::Config(format!(
                        "KINDLING_LOCK_BACKEND={other:?} is not a backend: use etcd2, etcd3 or fleetlock"
                    )));
                }
            };
        }
        if let Some(endpoints) = var("LOCKSMITHD_ENDPOINT") {
            config.endpoints = split_endpoints(&endpoints);
        }
        if let Some(group) = var("LOCKSMITHD_GROUP") {
            config.group = group;
        }
        config.tls = TlsFiles {
            ca: var("LOCKSMITHD_ETCD_CAFILE").map(PathBuf::from),
            cert: var("LOCKSMITHD_ETCD_CERTFILE").map(PathBuf::from),
            key: var("LOCKSMITHD_ETCD_KEYFILE").map(PathBuf::from),
        };
        if let Some(user) = var("LOCKSMITHD_ETCD_USERNAME") {
            config.auth = Some((user, var("LOCKSMITHD_ETCD_PASSWORD").unwrap_or_default()));
        }
        Ok(config)
    }

    /// The group name as etcd v3 and FleetLock spell it (`""` is `default`).
    #[must_use]
    pub fn named_group(&self) -> &str {
        if self.group.is_empty() {
            "default"
        } else {
            &self.group
        }
    }

    /// The client certificate and key, both or neither.
    pub(super) fn identity_pem(&self) -> Result<Option<Vec<u8>>, LockError> {
        match (&self.tls.cert, &self.tls.key) {
            (None, None) => Ok(None),
            (Some(cert), Some(key)) => {
                let mut pem = read(cert)?;
                pem.push(b'\n');
                pem.extend(read(key)?);
                Ok(Some(pem))
            }
            _ => Err(LockError::Config(
                "a client certificate needs both --etcd-certfile and --etcd-keyfile".into(),
            )),
        }
    }

    /// The CA file's contents, when one is set.
    pub(super) fn ca_pem(&self) -> Result<Option<Vec<u8>>, LockError> {
        self.tls.ca.as_ref().map(|p| read(p)).transpose()
    }
}

fn read(path: &std::path::Path) -> Result<Vec<u8>, LockError> {
    std::fs::read(path)
        .map_err(|e| LockError::Config(format!("cannot read {}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_update_conf() {
        let env = |n: &str| {
            Some(
                match n {
                    "LOCKSMITHD_ENDPOINT" => "https://10.0.0.1:2379, https://10.0.0.2:2379",
                    "LOCKSMITHD_GROUP" => "web",
                    "LOCKSMITHD_ETCD_CAFILE" => "/etc/ssl/etcd/ca.pem",
                    "LOCKSMITHD_ETCD_USERNAME" => "root",
                    "LOCKSMITHD_ETCD_PASSWORD" => "pw",
                    _ => return None,
                }
                .to_string(),
            )
        };
        let c = LockConfig::from_env(env).unwrap();
        assert_eq!(
            c.endpoints,
            ["https://10.0.0.1:2379", "https://10.0.0.2:2379"]
        );
        assert_eq!(c.group, "web");
        assert_eq!(
            c.tls.ca.as_deref(),
            Some(std::path::Path::new("/etc/ssl/etcd/ca.pem"))
        );
        assert_eq!(c.auth, Some(("root".into(), "pw".into())));
        assert_eq!(c.backend, Backend::Etcd2);
        let d = LockConfig::from_env(|_| None).unwrap();
        assert_eq!(d, LockConfig::default());
        assert_eq!(d.named_group(), "default");
    }
}
