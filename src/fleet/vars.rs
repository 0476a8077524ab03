//! Per-node values of the `$public_ipv4`-style variables in a fleet config.
//!
//! A node's values are the `COREOS_PUBLIC_IPV4`-style entries of its root's
//! `/etc/environment`, which the boot-time apply writes there from the metadata (read with
//! [`crate::datasource::env`], the same parser the datasource uses). Each value must be an
//! address of its variable's family; anything else is left out, as if missing. The node
//! publishes its values in its record (four addresses at most, checked again when read), so
//! `fleet diff` substitutes exactly what the node will.
//!
//! A config that uses a variable the node has no value for is refused on that node, with the
//! reason in its record. coreos-cloudinit substitutes an empty string there; a fleet does
//! not, because an empty address in a unit or a file (`--listen :4001`) is a config that
//! applies cleanly and breaks the service, on exactly the nodes nobody looked at.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use crate::compile::{VARIABLES, variables_used};
use crate::datasource::env::{env_name, parse_env_file};
use crate::root::{Observed, Root};

/// Variable name (`private_ipv4`) -> value.
pub type Vars = BTreeMap<String, String>;

/// Where a node keeps its values.
pub const ENVIRONMENT: &str = "/etc/environment";

/// Why a value cannot be the value of its variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Invalid {
    /// The name is not one of the variables.
    #[error("{0:?} is not a variable (only {only})", only = VARIABLES.join(", "))]
    NotAVariable(String),
    /// An address of the other family (the variable's environment name, the value).
    #[error("{0} ({1}) is an address of the other family")]
    OtherFamily(String, String),
    /// Not an address (the variable's environment name, the value's first 64 characters).
    #[error("{0} ({1:?}) is not an IP address")]
    NotAnAddress(String, String),
}

/// Why `value` cannot be the value of `variable` (`None`: it can).
#[must_use]
pub fn invalid(variable: &str, value: &str) -> Option<Invalid> {
    if !VARIABLES.contains(&variable) {
        return Some(Invalid::NotAVariable(variable.to_string()));
    }
    match value.parse::<IpAddr>() {
        Ok(IpAddr::V4(_)) if variable.ends_with("ipv4") => None,
        Ok(IpAddr::V6(_)) if variable.ends_with("ipv6") => None,
        Ok(_) => Some(Invalid::OtherFamily(env_name(variable), value.to_string())),
        Err(_) => Some(Invalid::NotAnAddress(
            env_name(variable),
            value.chars().take(64).collect(),
        )),
    }
}

/// The node's values from `root`'s `/etc/environment`, and why any entry was left out.
#[must_use]
pub fn of_root(root: &Root) -> (Vars, Vec<String>) {
    let text = match root.observe(ENVIRONMENT) {
        Ok(Observed::File { bytes, .. }) => String::from_utf8_lossy(&bytes).into_owned(),
        _ => return (Vars::new(), Vec::new()),
    };
    let entries = parse_env_file(&text);
    let mut vars = Vars::new();
    let mut problems = Vec::new();
    for v in VARIABLES {
        let Some(value) = entries.get(&env_name(v)).filter(|s| !s.is_empty()) else {
            continue;
        };
        match invalid(v, value) {
            None => {
                vars.insert(v.to_string(), value.clone());
            }
            Some(why) => problems.push(format!("{ENVIRONMENT}: {why}")),
        }
    }
    (vars, problems)
}

/// Check the values a record carries (at most the four variables, each an address).
///
/// # Errors
/// The first value that is not acceptable.
pub fn check(vars: &Vars) -> Result<(), Invalid> {
    match vars.iter().find_map(|(k, v)| invalid(k, v)) {
        Some(why) => Err(why),
        None => Ok(()),
    }
}

/// The variables `text` uses that `vars` has no value for.
#[must_use]
pub fn missing(text: &str, vars: &Vars) -> Vec<&'static str> {
    variables_used(text)
        .into_iter()
        .filter(|v| !vars.contains_key(*v))
        .collect()
}

/// Why a node refuses a config that uses `missing` variables.
#[must_use]
pub fn refusal(missing: &[&str]) -> String {
    let names: Vec<String> = missing.iter().map(|v| format!("${v}")).collect();
    let keys: Vec<String> = missing.iter().map(|v| env_name(v)).collect();
    format!(
        "the config uses {}, which this node has no value for ({} in {ENVIRONMENT}); nothing applied",
        names.join(", "),
        keys.join(", ")
    )
}

/// `vars` restricted to what `text` uses: the nodes with the same restriction get the same
/// plan.
#[must_use]
pub fn restrict(vars: &Vars, used: &BTreeSet<&'static str>) -> Vars {
    vars.iter()
        .filter(|(k, _)| used.contains(k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

/// A documentation address for every variable `text` uses (RFC 5737 / RFC 3849), to
/// validate a fleet config once before any node's values are known.
#[must_use]
pub fn placeholders(text: &str) -> Vec<(String, String)> {
    variables_used(text)
        .into_iter()
        .map(|v| {
            let value = match v {
                "public_ipv4" => "192.0.2.1",
                "private_ipv4" => "192.0.2.2",
                "public_ipv6" => "2001:db8::1",
                _ => "2001:db8::2",
            };
            (v.to_string(), value.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_come_from_the_environment_file_and_must_be_addresses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/environment"),
            "PATH=/bin\nCOREOS_PRIVATE_IPV4=10.0.0.7\nCOREOS_PUBLIC_IPV4=not-an-address\nCOREOS_PRIVATE_IPV6=10.0.0.8\nCOREOS_PUBLIC_IPV6=2001:db8::5\n",
        )
        .unwrap();
        let root = Root::new(dir.path()).unwrap();
        let (vars, problems) = of_root(&root);
        assert_eq!(
            vars.get("private_ipv4").map(String::as_str),
            Some("10.0.0.7")
        );
        assert_eq!(
            vars.get("public_ipv6").map(String::as_str),
            Some("2001:db8::5")
        );
        assert_eq!(vars.len(), 2, "{vars:?}");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("not an IP address"), "{problems:?}");
        assert!(problems[1].contains("other family"), "{problems:?}");
        let text = "#cloud-config\nhostname: $private_ipv4 $public_ipv4 \\$public_ipv6\n";
        assert_eq!(missing(text, &vars), ["public_ipv4"]);
        assert!(refusal(&["public_ipv4"]).contains("COREOS_PUBLIC_IPV4 in /etc/environment"));
        assert_eq!(restrict(&vars, &variables_used(text)).len(), 1);
        assert!(check(&vars).is_ok());
        let mut bad = vars.clone();
        bad.insert("home".into(), "1.2.3.4".into());
        assert!(check(&bad).is_err());
    }
}
