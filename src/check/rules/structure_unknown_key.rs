//! `kindling::structure::unknown-key`: a key the dialect does not have, with suggestions.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::structure_unknown_key`].

use crate::model::SectionInfo;
use crate::suggest::distance;

/// Keys that belong elsewhere: (section path where found, key, where it belongs).
const MISPLACED: &[(&str, &str, &str)] = &[
    ("", "units", "coreos.units"),
    ("", "update", "coreos.update"),
    ("", "locksmith", "coreos.locksmith"),
    ("", "etcd", "coreos.etcd"),
    ("", "etcd2", "coreos.etcd2"),
    ("", "fleet", "coreos.fleet"),
    ("", "flannel", "coreos.flannel"),
    ("", "oem", "coreos.oem"),
    ("", "reboot_strategy", "coreos.update.reboot-strategy"),
    ("coreos", "reboot_strategy", "coreos.update.reboot-strategy"),
    ("coreos", "hostname", "the top level"),
    ("coreos", "users", "the top level"),
    ("coreos", "ssh_authorized_keys", "the top level"),
    (
        "coreos.update",
        "window_start",
        "coreos.locksmith.window-start",
    ),
    (
        "coreos.update",
        "window_length",
        "coreos.locksmith.window-length",
    ),
    (
        "coreos.locksmith",
        "reboot_strategy",
        "coreos.update.reboot-strategy",
    ),
    (
        "coreos.units[].drop_ins[]",
        "command",
        "the unit itself (drop-ins have only name and content)",
    ),
    (
        "coreos.units[].drop_ins[]",
        "enable",
        "the unit itself (drop-ins have only name and content)",
    ),
];

/// Keys of neighbouring tools, with what to use instead.
const FOREIGN: &[(&str, &str)] = &[
    (
        "runcmd",
        "cloud-init's runcmd is not supported: write a oneshot unit with `command: start`",
    ),
    (
        "bootcmd",
        "cloud-init's bootcmd is not supported: write a oneshot unit with `command: start`",
    ),
    (
        "packages",
        "CoreOS-style images have no package manager: run software in containers or sysexts",
    ),
    (
        "package_update",
        "CoreOS-style images have no package manager",
    ),
    (
        "mounts",
        "cloud-init's mounts is not supported: write a .mount unit in coreos.units",
    ),
    (
        "chpasswd",
        "cloud-init's chpasswd is not supported: set `passwd` (a hash) under users",
    ),
    (
        "passwd",
        "this is a Butane/Container Linux Config key: use `users` in a cloud-config",
    ),
    (
        "systemd",
        "this is a Butane/Container Linux Config key: use `coreos.units` in a cloud-config",
    ),
    (
        "storage",
        "this is a Butane/Container Linux Config key: use `write_files` in a cloud-config",
    ),
    (
        "ignition",
        "this is an Ignition key: Ignition configs are JSON and are not cloud-configs",
    ),
    (
        "variant",
        "this is a Butane key: compile Butane configs with butane, not as a cloud-config",
    ),
];

/// A help line for an unknown `key` (normalised) found in `section`, if one fits.
#[must_use]
pub fn suggest(section: &SectionInfo, key: &str) -> Option<String> {
    if let Some((_, _, place)) = MISPLACED
        .iter()
        .find(|(path, k, _)| *path == section.path && *k == key)
    {
        return Some(format!("`{key}` belongs under {place}"));
    }
    if section.path.is_empty()
        && let Some((_, why)) = FOREIGN.iter().find(|(k, _)| *k == key)
    {
        return Some((*why).to_string());
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
    use crate::model::{CloudConfig, Coreos, WriteFile};

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest(&WriteFile::INFO, "permision").unwrap(),
            "did you mean `permissions`?"
        );
        assert_eq!(
            suggest(&WriteFile::INFO, "permission").unwrap(),
            "did you mean `permissions`?"
        );
        assert_eq!(
            suggest(&CloudConfig::INFO, "update").unwrap(),
            "`update` belongs under coreos.update"
        );
        assert!(
            suggest(&CloudConfig::INFO, "runcmd")
                .unwrap()
                .contains("oneshot")
        );
        assert!(suggest(&Coreos::INFO, "zzzzzz").is_none());
    }
}
