//! The machine's update settings, read from the files the compiler emits, as update_engine
//! reads them (the agent's and the fleet member's one source of configuration).
//!
//! Keys come from `/etc/coreos/update.conf`, `/etc/flatcar/update.conf`,
//! `/usr/share/coreos/update.conf`, `/usr/share/flatcar/update.conf`,
//! `/usr/share/coreos/release` and `/usr/share/flatcar/release`, in that order, the first
//! file that sets a key winning (update_engine's rule, both distributions' paths).
//! kindling's own settings are `KINDLING_*` keys in the same files, which update_engine
//! ignores. The agent has no configuration file of its own.

use std::collections::BTreeMap;
use std::time::Duration;

use super::error::{Error, InFile};
use crate::plan::agent as agent_keys;
use crate::root::{Observed, Root};

/// The longest wait after consecutive failures (an agent-only key; the compiler does not
/// emit it).
pub const MAX_BACKOFF_KEY: &str = "KINDLING_MAX_BACKOFF";

/// The files read, first match wins per key.
pub const FILES: [&str; 6] = [
    "/etc/coreos/update.conf",
    "/etc/flatcar/update.conf",
    "/usr/share/coreos/update.conf",
    "/usr/share/flatcar/update.conf",
    "/usr/share/coreos/release",
    "/usr/share/flatcar/release",
];

/// CoreOS's application id, update_engine's default.
pub const DEFAULT_APP_ID: &str = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}";
/// CoreOS's public update server, update_engine's default `SERVER`.
pub const DEFAULT_SERVER: &str = "https://public.update.core-os.net/v1/update/";

/// How the agent reboots into a staged update.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// At once.
    Reboot,
    /// Never by itself.
    Off,
    /// After taking the etcd reboot lock.
    EtcdLock,
    /// etcd-lock when an etcd unit is active on the node, else reboot.
    BestEffort,
    /// After taking a FleetLock lock.
    FleetLock,
}

impl Strategy {
    /// The strategy named by `REBOOT_STRATEGY` (locksmith's names; empty is best-effort,
    /// locksmith's default).
    ///
    /// # Errors
    /// An unknown name, with the known ones.
    pub fn parse(text: &str) -> Result<Strategy, Error> {
        match text.trim() {
            "" | "best-effort" => Ok(Strategy::BestEffort),
            "reboot" => Ok(Strategy::Reboot),
            "off" => Ok(Strategy::Off),
            "etcd-lock" => Ok(Strategy::EtcdLock),
            "fleet-lock" => Ok(Strategy::FleetLock),
            other => Err(Error::UnknownStrategy {
                name: other.to_string(),
                origin: InFile::default(),
            }),
        }
    }

    /// locksmith's name.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Strategy::Reboot => "reboot",
            Strategy::Off => "off",
            Strategy::EtcdLock => "etcd-lock",
            Strategy::BestEffort => "best-effort",
            Strategy::FleetLock => "fleet-lock",
        }
    }
}

/// When to check (seconds; kindling's `KINDLING_*` keys, update_engine-like defaults).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    /// Delay of the first check after the agent starts.
    pub first_check: Duration,
    /// Interval between checks.
    pub interval: Duration,
    /// A random delay of up to this much is added to every wait, the first included.
    pub jitter: Duration,
    /// The longest wait after consecutive errors.
    pub max_backoff: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Timing {
            first_check: Duration::from_secs(600),
            interval: Duration::from_secs(3600),
            jitter: Duration::from_secs(600),
            max_backoff: Duration::from_secs(4 * 3600),
        }
    }
}

/// The health check judging a freshly booted release.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Health {
    /// Units that must be active.
    pub units: Vec<String>,
    /// A command that must exit 0 (run by `/bin/sh -c`).
    pub command: Option<String>,
}

/// Everything the agent reads from the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `GROUP`: the channel.
    pub group: String,
    /// `SERVER`: the Omaha endpoint.
    pub server: String,
    /// `REBOOT_STRATEGY`, read.
    pub strategy: Strategy,
    /// The running release (`COREOS_RELEASE_VERSION` / `FLATCAR_RELEASE_VERSION`).
    pub version: String,
    /// The application id (`*_RELEASE_APPID`).
    pub app_id: String,
    /// The board (`*_RELEASE_BOARD`), `amd64-usr` when unset.
    pub board: String,
    /// Check timing.
    pub timing: Timing,
    /// The health check.
    pub health: Health,
    /// The reboot hooks.
    pub hooks: super::hooks::Hooks,
    /// Every key read, with its value (locksmith's keys included, for the reboot step).
    pub keys: BTreeMap<String, String>,
    /// Which file gave each key.
    pub origin: BTreeMap<String, String>,
}

/// A time span in seconds, or with a systemd-style unit (`90`, `10min`, `1h`, `1h 30min`).
fn span(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    // `infinity` is no interval for a check.
    crate::units::values::timespan_usec(text)
        .ok()
        .flatten()
        .map(Duration::from_micros)
}

/// Whether `root` is a CoreOS or Flatcar node: one of [`FILES`] is there (every node has
/// its release file; a compiled config adds update.conf). An unreadable file counts as
/// there, so the caller's read reports it.
#[must_use]
pub fn is_node(root: &Root) -> bool {
    FILES
        .iter()
        .any(|file| !matches!(root.observe(file), Ok(Observed::Missing)))
}

impl Settings {
    /// Read the settings of a root.
    ///
    /// # Errors
    /// A file that exists but cannot be read, or a value that cannot be understood (with the
    /// file and key named).
    pub fn read(root: &Root) -> Result<Settings, Error> {
        let mut keys = BTreeMap::new();
        let mut origin = BTreeMap::new();
        for file in FILES {
            match root.observe(file) {
                Ok(Observed::File { bytes, .. }) => {
                    for (k, v) in crate::slots::parse_key_values(&String::from_utf8_lossy(&bytes)) {
                        if let std::collections::btree_map::Entry::Vacant(e) = keys.entry(k) {
                            origin.insert(e.key().clone(), file.to_string());
                            e.insert(v);
                        }
                    }
                }
                Ok(_) => {}
                Err(source) => {
                    return Err(Error::Unreadable {
                        path: file.to_string(),
                        source,
                    });
                }
            }
        }
        Settings::from_keys(keys, origin)
    }

    /// Settings from keys already read.
    ///
    /// # Errors
    /// A value that cannot be understood.
    pub fn from_keys(
        keys: BTreeMap<String, String>,
        origin: BTreeMap<String, String>,
    ) -> Result<Settings, Error> {
        let get = |names: &[&str]| {
            names
                .iter()
                .find_map(|n| keys.get(*n).filter(|v| !v.is_empty()).cloned())
        };
        let at = |key: &str| InFile(origin.get(key).cloned());
        let strategy = Strategy::parse(keys.get("REBOOT_STRATEGY").map_or("", String::as_str))
            .map_err(|e| match e {
                Error::UnknownStrategy { name, .. } => Error::UnknownStrategy {
                    name,
                    origin: at("REBOOT_STRATEGY"),
                },
                other => other,
            })?;
        let mut timing = Timing::default();
        for (key, slot) in [
            (agent_keys::FIRST_CHECK_DELAY_KEY, &mut timing.first_check),
            (agent_keys::CHECK_INTERVAL_KEY, &mut timing.interval),
            (agent_keys::CHECK_JITTER_KEY, &mut timing.jitter),
            (MAX_BACKOFF_KEY, &mut timing.max_backoff),
        ] {
            if let Some(v) = keys.get(key).filter(|v| !v.is_empty()) {
                *slot = span(v).ok_or_else(|| Error::NotATimeSpan {
                    key,
                    value: v.clone(),
                    origin: at(key),
                })?;
            }
        }
        if timing.interval.is_zero() {
            return Err(Error::ZeroInterval {
                key: agent_keys::CHECK_INTERVAL_KEY,
                origin: at(agent_keys::CHECK_INTERVAL_KEY),
            });
        }
        let health = Health {
            units: keys
                .get(agent_keys::HEALTH_UNITS_KEY)
                .map(|v| {
                    v.split([' ', ','])
                        .filter(|u| !u.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            command: keys
                .get(agent_keys::HEALTH_COMMAND_KEY)
                .filter(|v| !v.is_empty())
                .cloned(),
        };
        let hooks = super::hooks::Hooks::from_keys(&keys, &origin)?;
        Ok(Settings {
            group: get(&["GROUP"]).unwrap_or_else(|| "stable".to_string()),
            server: get(&["SERVER"]).unwrap_or_else(|| DEFAULT_SERVER.to_string()),
            strategy,
            version: get(&["COREOS_RELEASE_VERSION", "FLATCAR_RELEASE_VERSION"])
                .unwrap_or_else(|| "0.0.0".to_string()),
            app_id: get(&["COREOS_RELEASE_APPID", "FLATCAR_RELEASE_APPID"])
                .unwrap_or_else(|| DEFAULT_APP_ID.to_string()),
            board: get(&["COREOS_RELEASE_BOARD", "FLATCAR_RELEASE_BOARD"])
                .unwrap_or_else(|| "amd64-usr".to_string()),
            timing,
            health,
            hooks,
            keys,
            origin,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(files: &[(&str, &str)]) -> Result<Settings, String> {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        Settings::read(&Root::new(dir.path()).unwrap()).map_err(|e| e.to_string())
    }

    #[test]
    fn first_file_wins_per_key_and_defaults_fill_the_rest() {
        let s = settings(&[
            (
                "/etc/coreos/update.conf",
                "GROUP=beta\n# comment\nREBOOT_STRATEGY=off\n",
            ),
            (
                "/usr/share/coreos/update.conf",
                "GROUP=stable\nSERVER=http://127.0.0.1:1/v1/update/\n",
            ),
            (
                "/usr/share/coreos/release",
                "COREOS_RELEASE_VERSION=1.0.0\nCOREOS_RELEASE_BOARD=amd64-usr\n",
            ),
        ])
        .unwrap();
        assert_eq!(s.group, "beta");
        assert_eq!(s.server, "http://127.0.0.1:1/v1/update/");
        assert_eq!(s.strategy, Strategy::Off);
        assert_eq!(s.version, "1.0.0");
        assert_eq!(s.app_id, DEFAULT_APP_ID);
        assert_eq!(s.origin["GROUP"], "/etc/coreos/update.conf");
        assert_eq!(s.timing, Timing::default());
    }

    #[test]
    fn flatcar_paths_and_kindling_keys() {
        let s = settings(&[
            (
                "/etc/flatcar/update.conf",
                "KINDLING_CHECK_INTERVAL=30min\nKINDLING_FIRST_CHECK_DELAY=5\nKINDLING_HEALTH_UNITS=a.service b.service\n",
            ),
            ("/usr/share/flatcar/release", "FLATCAR_RELEASE_VERSION=3510.2.0\n"),
        ])
        .unwrap();
        assert_eq!(s.version, "3510.2.0");
        assert_eq!(s.timing.interval, Duration::from_secs(1800));
        assert_eq!(s.timing.first_check, Duration::from_secs(5));
        assert_eq!(s.health.units, ["a.service", "b.service"]);
        assert_eq!(s.strategy, Strategy::BestEffort);
    }

    #[test]
    fn bad_values_name_the_file_and_key() {
        let err = settings(&[("/etc/coreos/update.conf", "REBOOT_STRATEGY=always\n")]).unwrap_err();
        assert!(err.contains("REBOOT_STRATEGY=always"), "{err}");
        assert!(err.contains("/etc/coreos/update.conf"), "{err}");
        let err =
            settings(&[("/etc/coreos/update.conf", "KINDLING_CHECK_INTERVAL=soon\n")]).unwrap_err();
        assert!(err.contains("KINDLING_CHECK_INTERVAL=soon"), "{err}");
        let err = settings(&[(
            "/etc/flatcar/update.conf",
            "KINDLING_PRE_REBOOT_COMMAND=kubectl drain n1\n",
        )])
        .unwrap_err();
        assert_eq!(
            err,
            "KINDLING_PRE_REBOOT_COMMAND=kubectl drain n1 (in /etc/flatcar/update.conf) cannot be used: \"kubectl\" is not an absolute path; a hook runs without a shell and without a PATH search"
        );
        let err = settings(&[(
            "/etc/coreos/update.conf",
            "KINDLING_POST_BOOT_COMMAND=/bin/true\nKINDLING_POST_BOOT_TIMEOUT=infinity\n",
        )])
        .unwrap_err();
        assert!(err.contains("KINDLING_POST_BOOT_TIMEOUT=infinity"), "{err}");
        let s = settings(&[(
            "/etc/coreos/update.conf",
            "KINDLING_PRE_REBOOT_COMMAND=/bin/sh -c 'kubectl drain \"$(hostname)\"'\nKINDLING_PRE_REBOOT_TIMEOUT=90\n",
        )])
        .unwrap();
        let pre = s.hooks.pre_reboot.unwrap();
        assert_eq!(pre.argv, ["/bin/sh", "-c", "kubectl drain \"$(hostname)\""]);
        assert_eq!(pre.timeout, Duration::from_secs(90));
        assert_eq!(s.hooks.post_boot, None);
    }
}
