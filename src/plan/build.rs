//! Planning a config, step by step in coreos-cloudinit's order: hostname, users, SSH keys,
//! files (`write_files`, then the generated ones), units.

use super::builder::{Builder, text};
use super::generated::{WINDOW_SCRIPT, files as generated_files_into, units as generated_units};
use super::types::{ActionKind, Content, Effect, Plan, PlanOptions, PlannedFile, UserSpec};
use super::units::{from_config as config_units, process as process_units};
use crate::encoding::decode;
use crate::model::{CloudConfig, Spanned};
use crate::root::clean;

/// Paths whose content only matters at boot (or to a daemon kindling does not restart).
fn file_effect(path: &str) -> Effect {
    const AT_BOOT: &[&str] = &[
        "/etc/fstab",
        "/etc/crypttab",
        "/etc/modprobe.d/",
        "/etc/modules-load.d/",
        "/etc/sysctl.d/",
        "/etc/sysctl.conf",
        "/etc/systemd/system.conf",
        "/etc/systemd/system.conf.d/",
        "/etc/systemd/journald.conf",
        "/etc/systemd/journald.conf.d/",
        "/etc/systemd/logind.conf",
        "/etc/udev/",
        "/etc/kernel/",
        "/boot/",
        "/usr/share/oem/",
        "/etc/selinux/",
    ];
    if AT_BOOT
        .iter()
        .any(|p| path == *p || (p.ends_with('/') && path.starts_with(p)))
    {
        Effect::RebootRequired
    } else {
        Effect::InService
    }
}

/// Plan a config.
#[must_use]
pub fn plan(config: &CloudConfig, options: &PlanOptions) -> Plan {
    plan_parts(config, options, true)
}

/// Where the files generated from keys other than `write_files` can be: a path outside
/// these cannot collide with one (`generated_files` is then not worth computing).
pub const GENERATED_PLACES: &[&str] = &[
    "/etc/systemd/",
    "/run/systemd/",
    "/etc/coreos/update.conf",
    "/etc/hostname",
    "/etc/hosts",
    "/etc/oem-release",
    "/run/flannel/",
    WINDOW_SCRIPT,
    "/etc/kindling/trusted-keys/",
];

/// The files the config generates from keys other than `write_files` (what
/// `write_files` must not also write).
#[must_use]
pub fn generated_files(config: &CloudConfig) -> Vec<PlannedFile> {
    plan_parts(config, &PlanOptions::default(), false).files
}

fn plan_parts(config: &CloudConfig, options: &PlanOptions, with_write_files: bool) -> Plan {
    let mut b = Builder::default();
    hostname(config, &mut b);
    users(config, &mut b);
    ssh_keys(config, &mut b);
    if with_write_files {
        write_files(config, &mut b);
    }
    generated_files_into(config, options, &mut b);
    let mut list = config_units(config);
    list.extend(generated_units(config));
    process_units(&list, &mut b);
    b.plan
}

/// 1. The hostname: `/etc/hostname` and setting it now.
fn hostname(config: &CloudConfig, b: &mut Builder) {
    if let Some(h) = config.hostname.as_ref().filter(|h| !h.value.is_empty()) {
        b.file(PlannedFile {
            path: "/etc/hostname".into(),
            content: Content::Bytes(format!("{}\n", h.value).into_bytes()),
            mode: 0o644,
            owner: None,
            effect: Effect::InService,
            span: h.span,
            origin: "hostname".into(),
        });
        b.action(
            ActionKind::SetHostname {
                hostname: h.value.clone(),
            },
            Effect::InService,
            h.span,
        );
    }
}

/// 2. The users, created in list order.
fn users(config: &CloudConfig, b: &mut Builder) {
    for user in config.users() {
        let u = &user.value;
        let Some(name) = text(u.name.as_ref()) else {
            continue;
        };
        let list = |l: &Option<Spanned<Vec<Spanned<String>>>>| -> Vec<String> {
            l.iter()
                .flat_map(|v| v.value.iter())
                .map(|s| s.value.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        };
        let spec = UserSpec {
            name: name.to_string(),
            passwd: text(u.passwd.as_ref()).map(str::to_string),
            gecos: text(u.gecos.as_ref()).map(str::to_string),
            homedir: text(u.homedir.as_ref()).map(str::to_string),
            no_create_home: u.no_create_home.as_ref().is_some_and(|b| b.value),
            primary_group: text(u.primary_group.as_ref()).map(str::to_string),
            groups: list(&u.groups),
            no_user_group: u.no_user_group.as_ref().is_some_and(|b| b.value),
            system: u.system.as_ref().is_some_and(|b| b.value),
            no_log_init: u.no_log_init.as_ref().is_some_and(|b| b.value),
            shell: text(u.shell.as_ref()).map(str::to_string),
            ssh_authorized_keys: list(&u.ssh_authorized_keys),
        };
        b.action(
            ActionKind::CreateUser { user: spec },
            Effect::InService,
            user.span,
        );
    }
}

/// 3. The top-level SSH keys, for core.
fn ssh_keys(config: &CloudConfig, b: &mut Builder) {
    if let Some(keys) = &config.ssh_authorized_keys {
        let list: Vec<String> = keys
            .value
            .iter()
            .map(|k| k.value.trim().to_string())
            .filter(|k| !k.is_empty())
            .collect();
        if !list.is_empty() {
            b.action(
                ActionKind::AuthorizeKeys {
                    user: "core".into(),
                    keys: list,
                },
                Effect::InService,
                keys.key_span,
            );
        }
    }
}

/// 4. `write_files`, decoded (a file that cannot be decoded is left out).
fn write_files(config: &CloudConfig, b: &mut Builder) {
    for (i, file) in config.write_files().enumerate() {
        let f = &file.value;
        let Some(path) = text(f.path.as_ref()) else {
            continue;
        };
        let raw = f
            .content
            .as_ref()
            .map_or(&[][..], |c| c.value.bytes.as_slice());
        let encoding = text(f.encoding.as_ref()).unwrap_or("");
        let Ok(bytes) = decode(raw, encoding) else {
            continue;
        };
        let mode = text(f.permissions.as_ref())
            .and_then(|p| u32::from_str_radix(p, 8).ok())
            .unwrap_or(0o644);
        let path = clean(path);
        b.file(PlannedFile {
            effect: file_effect(&path),
            path,
            content: Content::Bytes(bytes),
            mode,
            owner: text(f.owner.as_ref()).map(str::to_string),
            span: file.span,
            origin: format!("write_files[{i}]"),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_effects() {
        for (path, effect) in [
            ("/etc/sysctl.d/10-x.conf", Effect::RebootRequired),
            ("/etc/fstab", Effect::RebootRequired),
            ("/etc/motd", Effect::InService),
            ("/etc/fstabs", Effect::InService),
        ] {
            assert_eq!(file_effect(path), effect, "{path}");
        }
    }
}
