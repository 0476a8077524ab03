//! Plan: the files a node needs and the actions that must follow, from a checked config.
//!
//! `plan` is a pure, deterministic function of the typed config (same input, same plan,
//! same bytes): no I/O, no clock, no randomness, maps iterated in sorted order. The order
//! is coreos-cloudinit's `Apply`: hostname, users, SSH keys, then files (`write_files`,
//! `/etc/oem-release`, `/etc/coreos/update.conf`, `/etc/hosts`, flannel's options), then
//! units in list order (the config's, then the generated ones: etcd, etcd2, fleet,
//! locksmithd, update-engine, kindling's extensions and agent), each placed, masked or unmasked and
//! enabled, then one daemon-reload, a networkd restart, and the units' commands.
//!
//! Every file and action remembers the span it came from and whether it takes effect in
//! service (the apply itself makes it current: a restart, a reload, a command) or only
//! after a reboot (or the next start of a unit nobody restarts).
//!
//! The plan assumes a config without errors; on anything else it does its best without
//! panicking (compile refuses configs with errors before planning).

pub mod agent;
mod generated;
pub mod text;
mod units;

pub use agent::{AGENT_BINARY, AGENT_UNIT, TRUSTED_KEYS_DIR};
pub use units::is_network as is_network_unit;

use serde::Serialize;

use crate::diagnostic::Span;
use crate::encoding::decode;
use crate::model::{CloudConfig, Spanned};
use crate::root::clean;

/// Inputs beyond the config.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// The node's existing `/etc/coreos/update.conf` (or `/usr/share/coreos/update.conf`),
    /// to merge into; without it update.conf holds only the config's keys.
    pub update_conf_base: Option<String>,
}

/// When a change takes effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Effect {
    /// During the apply: a daemon-reload, restart, or command makes it current.
    InService,
    /// Only at the next boot (or the next start of a unit nothing restarts).
    RebootRequired,
}

impl Effect {
    /// `in-service` or `reboot-required`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::InService => "in-service",
            Effect::RebootRequired => "reboot-required",
        }
    }
}

/// What is at a planned path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// A regular file with these bytes.
    Bytes(Vec<u8>),
    /// A symbolic link to this target (`/dev/null` for a mask).
    Symlink(String),
}

/// One file the node needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    /// Absolute path on the node, cleaned (`/etc/coreos/update.conf`).
    pub path: String,
    /// Its content.
    pub content: Content,
    /// Permission bits (with setuid/setgid/sticky); 0o777 for links.
    pub mode: u32,
    /// `user`, `user:group` or numeric ids; `None` for root.
    pub owner: Option<String>,
    /// When it takes effect.
    pub effect: Effect,
    /// Where in the config it comes from.
    pub span: Span,
    /// What in the config it comes from, e.g. `write_files[2]`, `coreos.update`.
    pub origin: String,
}

/// A user to create (or whose password to set when it exists).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UserSpec {
    /// Login name.
    pub name: String,
    /// Password hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub passwd: Option<String>,
    /// GECOS field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gecos: Option<String>,
    /// Home directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homedir: Option<String>,
    /// Do not create the home directory.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_create_home: bool,
    /// Primary group.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_group: Option<String>,
    /// Supplementary groups.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// No group named after the user.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_user_group: bool,
    /// A system account.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub system: bool,
    /// Not in lastlog/faillog.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_log_init: bool,
    /// Login shell.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shell: Option<String>,
    /// SSH keys.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ssh_authorized_keys: Vec<String>,
}

/// Something to do after the files are in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum ActionKind {
    /// `hostnamectl set-hostname`.
    SetHostname {
        /// The name.
        hostname: String,
    },
    /// Create a user (or set the password of an existing one).
    CreateUser {
        /// Who.
        user: UserSpec,
    },
    /// Authorise SSH keys for a user (`update-ssh-keys -u USER -a coreos-cloudinit`).
    AuthorizeKeys {
        /// Whose.
        user: String,
        /// The keys.
        keys: Vec<String>,
    },
    /// Write `/etc/hosts` as `127.0.0.1 <hostname>` with the node's hostname, which the
    /// config does not name.
    WriteEtcHosts,
    /// Remove a runtime mask (`/run/systemd/system/<unit>` linked to /dev/null or empty).
    Unmask {
        /// The unit.
        unit: String,
        /// The mask's path.
        path: String,
    },
    /// `systemctl enable [--runtime] --force <unit>`.
    Enable {
        /// The unit.
        unit: String,
        /// Whether in /run.
        runtime: bool,
    },
    /// `systemctl daemon-reload`.
    DaemonReload,
    /// Restart systemd-networkd (network units changed).
    RestartNetworkd,
    /// `systemctl <verb> <unit>` (job mode replace).
    Systemctl {
        /// start, stop, restart, ...
        verb: String,
        /// The unit.
        unit: String,
    },
}

/// One action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Action {
    /// What.
    pub kind: ActionKind,
    /// When it takes effect.
    pub effect: Effect,
    /// Where in the config it comes from.
    pub span: Span,
}

/// Everything a node needs from a config.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    /// Files, in the order they are written; each path once.
    pub files: Vec<PlannedFile>,
    /// Actions, in the order they run.
    pub actions: Vec<Action>,
}

impl Plan {
    /// The file at `path`, if planned.
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&PlannedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Collects files and actions; a later file at the same path replaces the earlier one,
/// as the later write does on the node.
#[derive(Default)]
struct Builder {
    plan: Plan,
    /// Paths already planned, so that the common case (a new path) stays O(1).
    paths: std::collections::HashSet<String>,
}

impl Builder {
    fn file(&mut self, file: PlannedFile) {
        if !self.paths.insert(file.path.clone()) {
            self.plan.files.retain(|f| f.path != file.path);
        }
        self.plan.files.push(file);
    }

    fn action(&mut self, kind: ActionKind, effect: Effect, span: Span) {
        self.plan.actions.push(Action { kind, effect, span });
    }
}

fn text(value: Option<&Spanned<String>>) -> Option<&str> {
    value.map(|v| v.value.as_str()).filter(|v| !v.is_empty())
}

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
    generated::WINDOW_SCRIPT,
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

    // 1. hostname
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

    // 2. users
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

    // 3. top-level SSH keys, for core
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

    // 4. files
    for (i, file) in config
        .write_files()
        .enumerate()
        .filter(|_| with_write_files)
    {
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
    generated::files(config, options, &mut b);

    // 5. units
    let mut list = units::from_config(config);
    list.extend(generated::units(config));
    units::process(&list, &mut b);

    b.plan
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_effects() {
        assert_eq!(
            file_effect("/etc/sysctl.d/10-x.conf"),
            Effect::RebootRequired
        );
        assert_eq!(file_effect("/etc/fstab"), Effect::RebootRequired);
        assert_eq!(file_effect("/etc/motd"), Effect::InService);
        assert_eq!(file_effect("/etc/fstabs"), Effect::InService);
    }
}
