//! `kindling::structure::unknown-key`: a key the dialect does not have, with suggestions.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::structure_unknown_key`].

use crate::model::SectionInfo;
use crate::suggest::distance;

/// Where a key found in `section` belongs, when it belongs elsewhere.
fn misplaced(section: &str, key: &str) -> Option<String> {
    let place = match (section, key) {
        ("", "units" | "update" | "locksmith" | "etcd" | "etcd2" | "fleet" | "flannel" | "oem") => {
            format!("coreos.{key}")
        }
        ("" | "coreos" | "coreos.locksmith", "reboot_strategy") => {
            "coreos.update.reboot-strategy".to_string()
        }
        ("coreos", "hostname" | "users" | "ssh_authorized_keys") => "the top level".to_string(),
        ("coreos.update", "window_start" | "window_length") => {
            format!("coreos.locksmith.{}", key.replace('_', "-"))
        }
        ("coreos.units[].drop_ins[]", "command" | "enable") => {
            "the unit itself (drop-ins have only name and content)".to_string()
        }
        _ => return None,
    };
    Some(format!("`{key}` belongs under {place}"))
}

/// What to use instead of a top-level key of a neighbouring tool.
fn foreign(key: &str) -> Option<String> {
    const BUTANE: &str = "this is a Butane/Container Linux Config key";
    let why = match key {
        "runcmd" | "bootcmd" => format!(
            "cloud-init's {key} is not supported: write a oneshot unit with `command: start`"
        ),
        "packages" => {
            "CoreOS-style images have no package manager: run software in containers or sysexts"
                .to_string()
        }
        "package_update" => "CoreOS-style images have no package manager".to_string(),
        "mounts" => {
            format!("cloud-init's {key} is not supported: write a .mount unit in coreos.units")
        }
        "chpasswd" => {
            format!("cloud-init's {key} is not supported: set `passwd` (a hash) under users")
        }
        "passwd" => format!("{BUTANE}: use `users` in a cloud-config"),
        "systemd" => format!("{BUTANE}: use `coreos.units` in a cloud-config"),
        "storage" => format!("{BUTANE}: use `write_files` in a cloud-config"),
        "ignition" => {
            "this is an Ignition key: Ignition configs are JSON and are not cloud-configs"
                .to_string()
        }
        "variant" => {
            "this is a Butane key: compile Butane configs with butane, not as a cloud-config"
                .to_string()
        }
        _ => return None,
    };
    Some(why)
}

/// A help line for an unknown `key` (normalised) found in `section`, if one fits.
#[must_use]
pub fn suggest(section: &SectionInfo, key: &str) -> Option<String> {
    if let Some(help) = misplaced(section.path, key) {
        return Some(help);
    }
    if section.path.is_empty()
        && let Some(why) = foreign(key)
    {
        return Some(why);
    }
    let best = section
        .fields
        .iter()
        .map(|f| (distance(key, f.key), f.key))
        .min()?;
    let limit = (key.len().max(best.1.len()) / 3).max(1);
    (best.0 <= limit)
        .then(|| format!("did you mean `{}`?", best.1.replace('_', "-")))
        .map(|s| {
            // Prefer the spelling coreos-cloudinit's docs use for the common keys.
            s.replace("`write-files`", "`write_files`")
                .replace("`ssh-authorized-keys`", "`ssh_authorized_keys`")
                .replace("`manage-etc-hosts`", "`manage_etc_hosts`")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CloudConfig, Coreos, Update, WriteFile};

    #[test]
    fn suggestions() {
        let cases: [(&SectionInfo, &str, &str); 5] = [
            (&WriteFile::INFO, "permision", "did you mean `permissions`?"),
            (
                &WriteFile::INFO,
                "permission",
                "did you mean `permissions`?",
            ),
            (
                &CloudConfig::INFO,
                "update",
                "`update` belongs under coreos.update",
            ),
            (
                &Update::INFO,
                "window_length",
                "`window_length` belongs under coreos.locksmith.window-length",
            ),
            (
                &CloudConfig::INFO,
                "systemd",
                "this is a Butane/Container Linux Config key: use `coreos.units` in a cloud-config",
            ),
        ];
        for (info, key, help) in cases {
            assert_eq!(suggest(info, key).as_deref(), Some(help), "{key}");
        }
        assert!(
            suggest(&CloudConfig::INFO, "runcmd")
                .unwrap()
                .contains("oneshot")
        );
        assert!(suggest(&Coreos::INFO, "zzzzzz").is_none());
    }
}
