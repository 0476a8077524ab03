//! The `$public_ipv4`-style values and `/etc/environment`, as coreos-cloudinit's
//! `initialize/env.go` and `system/env_file.go`.
//!
//! Each variable's value is the metadata's address, else `COREOS_PUBLIC_IPV4` (and friends)
//! from the environment, else empty. The environment is the process's (the boot units load
//! `EnvironmentFile=-/etc/environment`), then the root's own `/etc/environment`, so a run
//! against a test root sees what that root's boot would. Every non-empty value is merged into
//! `/etc/environment` as `COREOS_*=VALUE`: existing keys rewritten in place, new ones appended
//! sorted, every other line kept.

use std::collections::BTreeMap;

use super::Metadata;
use crate::compile::VARIABLES;

/// The environment name of a variable (`public_ipv4` is `COREOS_PUBLIC_IPV4`).
#[must_use]
pub fn env_name(variable: &str) -> String {
    format!("COREOS_{}", variable.to_ascii_uppercase())
}

/// Where each value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The metadata.
    Metadata,
    /// A `COREOS_*` environment variable.
    Environment,
    /// Nowhere: substituted as empty.
    Missing,
}

/// Every variable's value (empty when missing) and where it came from.
#[must_use]
pub fn values(
    md: &Metadata,
    env: &dyn Fn(&str) -> Option<String>,
) -> BTreeMap<String, (String, Origin)> {
    VARIABLES
        .iter()
        .map(|v| {
            let value = match (md.ip(v), env(&env_name(v)).filter(|s| !s.is_empty())) {
                (Some(ip), _) => (ip.to_string(), Origin::Metadata),
                (None, Some(s)) => (s, Origin::Environment),
                (None, None) => (String::new(), Origin::Missing),
            };
            ((*v).to_string(), value)
        })
        .collect()
}

/// `KEY=VALUE` pairs of an environment file (the `COREOS_*` fallback from a root).
#[must_use]
pub fn parse_env_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.trim_end_matches('\r').split_once('=')?;
            let k = k.trim().trim_start_matches("export ").trim();
            let v = v.trim().trim_matches('"');
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

fn key_of(line: &str) -> Option<&str> {
    let (k, _) = line.split_once('=')?;
    (!k.is_empty() && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')).then_some(k)
}

/// coreos-cloudinit's `mergeEnvContents`: rewrite `pending` keys in place, append the rest
/// sorted; CR line ends are dropped and a last line without a newline gets one.
#[must_use]
pub fn merge_env(old: &str, pending: &BTreeMap<String, String>) -> String {
    let mut pending = pending.clone();
    let mut out = String::with_capacity(old.len() + 128);
    for line in old.split_inclusive('\n') {
        let line = line.trim_end_matches('\n').trim_end_matches('\r');
        match key_of(line).and_then(|k| pending.remove_entry(k)) {
            Some((k, v)) => out.push_str(&format!("{k}={v}\n")),
            None => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    for (k, v) in pending {
        out.push_str(&format!("{k}={v}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_as_coreos_cloudinit() {
        let pending: BTreeMap<String, String> = [
            ("COREOS_PUBLIC_IPV4", "203.0.113.7"),
            ("COREOS_PRIVATE_IPV4", "10.1.2.3"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            merge_env(
                "# keep\nA=1\r\nCOREOS_PRIVATE_IPV4=127.0.0.1\nB=2",
                &pending
            ),
            "# keep\nA=1\nCOREOS_PRIVATE_IPV4=10.1.2.3\nB=2\nCOREOS_PUBLIC_IPV4=203.0.113.7\n"
        );
        assert_eq!(
            merge_env("", &pending),
            "COREOS_PRIVATE_IPV4=10.1.2.3\nCOREOS_PUBLIC_IPV4=203.0.113.7\n"
        );
        let once = merge_env("X=1\n", &pending);
        assert_eq!(merge_env(&once, &pending), once);
    }

    #[test]
    fn values_fall_back_to_the_environment() {
        let md = Metadata {
            private_ipv4: Some("10.0.0.9".parse().unwrap()),
            ..Metadata::default()
        };
        let env = |k: &str| (k == "COREOS_PUBLIC_IPV4").then(|| "198.51.100.1".to_string());
        let v = values(&md, &env);
        assert_eq!(v["private_ipv4"], ("10.0.0.9".into(), Origin::Metadata));
        assert_eq!(
            v["public_ipv4"],
            ("198.51.100.1".into(), Origin::Environment)
        );
        assert_eq!(v["public_ipv6"], (String::new(), Origin::Missing));
    }
}
