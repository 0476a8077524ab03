//! locksmithd's configuration as the reboot manager reads it, so a node swaps locksmithd for
//! kindling without changing its config.
//!
//! locksmithd reads only its environment; its unit fills that from
//! `/usr/share/coreos/update.conf` and then `/etc/coreos/update.conf` (`EnvironmentFile=`,
//! the later file winning). kindling reads the same files itself (`machine::settings`:
//! `/etc` first, the first file that sets a key winning, which is the same order), then
//! lays the process environment over them: a variable set (and not empty) in the
//! environment wins over the files, as an `Environment=` line or a shell's `VAR=... kindling`
//! is meant to. The keys are locksmithd's: [`KEYS`].

use std::collections::BTreeMap;

use crate::machine::settings::Settings;

/// The variables locksmithd reads: the strategy, the window (the `LOCKSMITHD_` names, each
/// falling back to the plain one), and its global flags as `LOCKSMITHD_<FLAG>`.
pub const KEYS: [&str; 12] = [
    "REBOOT_STRATEGY",
    "LOCKSMITHD_REBOOT_WINDOW_START",
    "LOCKSMITHD_REBOOT_WINDOW_LENGTH",
    "REBOOT_WINDOW_START",
    "REBOOT_WINDOW_LENGTH",
    "LOCKSMITHD_ENDPOINT",
    "LOCKSMITHD_GROUP",
    "LOCKSMITHD_ETCD_CAFILE",
    "LOCKSMITHD_ETCD_CERTFILE",
    "LOCKSMITHD_ETCD_KEYFILE",
    "LOCKSMITHD_ETCD_USERNAME",
    "LOCKSMITHD_ETCD_PASSWORD",
];

/// Where a key from the environment came from, in messages.
pub const ENVIRONMENT: &str = "the environment";

/// `settings` with locksmithd's variables from `env` laid over the files' (an empty variable
/// counts as unset). The strategy is read again, so a bad `REBOOT_STRATEGY` in the
/// environment is reported as coming from there.
///
/// # Errors
/// A value that cannot be understood (an unknown strategy), with where it came from.
pub fn overlay(
    settings: &Settings,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Settings, crate::machine::Error> {
    let mut keys: BTreeMap<String, String> = settings.keys.clone();
    let mut origin = settings.origin.clone();
    for key in KEYS {
        if let Some(value) = env(key).filter(|v| !v.is_empty()) {
            keys.insert(key.to_string(), value);
            origin.insert(key.to_string(), ENVIRONMENT.to_string());
        }
    }
    Settings::from_keys(keys, origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::settings::Strategy;

    fn settings(pairs: &[(&str, &str)]) -> Settings {
        let keys = pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect();
        let origin = pairs
            .iter()
            .map(|(k, _)| ((*k).to_string(), "/etc/coreos/update.conf".to_string()))
            .collect();
        Settings::from_keys(keys, origin).unwrap()
    }

    #[test]
    fn the_environment_wins_over_update_conf() {
        let files = settings(&[
            ("REBOOT_STRATEGY", "reboot"),
            ("LOCKSMITHD_GROUP", "web"),
            ("GROUP", "stable"),
        ]);
        let env = |k: &str| match k {
            "REBOOT_STRATEGY" => Some("etcd-lock".to_string()),
            "LOCKSMITHD_ENDPOINT" => Some("http://127.0.0.1:4001".to_string()),
            "LOCKSMITHD_GROUP" => Some(String::new()),
            // Not one of locksmithd's: never taken from the environment.
            "GROUP" => Some("alpha".to_string()),
            _ => None,
        };
        let s = overlay(&files, env).unwrap();
        assert_eq!(s.strategy, Strategy::EtcdLock);
        assert_eq!(s.keys["LOCKSMITHD_ENDPOINT"], "http://127.0.0.1:4001");
        assert_eq!(s.origin["LOCKSMITHD_ENDPOINT"], ENVIRONMENT);
        assert_eq!(s.keys["LOCKSMITHD_GROUP"], "web");
        assert_eq!(s.group, "stable");
    }

    #[test]
    fn a_bad_strategy_in_the_environment_says_so() {
        let files = settings(&[]);
        let e = overlay(&files, |k| {
            (k == "REBOOT_STRATEGY").then(|| "always".to_string())
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("always") && e.contains(ENVIRONMENT), "{e}");
    }
}
