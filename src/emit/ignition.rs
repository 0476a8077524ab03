//! A plan as an Ignition config, spec 3.3.0 (the newest Debian's `ignition-validate`
//! accepts).
//!
//! Ignition writes files once, from the initramfs, before any unit starts, so:
//! - files become `storage.files` (contents as `data:` URLs, mode, user and group);
//!   unit files, drop-ins and masks become `systemd.units`; networkd files stay files
//!   under `/etc/systemd/network`;
//! - units the config starts (`start`, `restart`, `reload-or-restart`) or enables become
//!   `enabled: true`; a unit whose text has no `[Install]` section gets a `.wants` link
//!   instead, so it still starts at boot; other commands mean nothing at first boot;
//! - runtime units (`/run/systemd/...`) are written under /etc (Ignition cannot write
//!   /run, which is a fresh tmpfs at boot); other files under /run are created at every
//!   boot by a systemd-tmpfiles snippet;
//! - users and SSH keys become `passwd.users`; `/etc/hosts` for a hostname the config
//!   does not name is written at boot by a small oneshot unit.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::plan::{ActionKind, Content, Plan, PlannedFile, UserSpec};

/// The spec version emitted.
pub const VERSION: &str = "3.3.0";

/// Where runtime files are declared for systemd-tmpfiles.
pub const TMPFILES: &str = "/etc/tmpfiles.d/kindling-run.conf";

#[derive(Serialize)]
struct Config {
    ignition: Ignition,
    #[serde(skip_serializing_if = "Passwd::is_empty")]
    passwd: Passwd,
    #[serde(skip_serializing_if = "Storage::is_empty")]
    storage: Storage,
    #[serde(skip_serializing_if = "Systemd::is_empty")]
    systemd: Systemd,
}

#[derive(Serialize)]
struct Ignition {
    version: &'static str,
}

#[derive(Serialize, Default)]
struct Passwd {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    users: Vec<User>,
}

impl Passwd {
    fn is_empty(&self) -> bool {
        self.users.is_empty()
    }
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct User {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    password_hash: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    ssh_authorized_keys: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gecos: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    home_dir: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_create_home: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_group: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    groups: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_user_group: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    no_log_init: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shell: Option<String>,
}

#[derive(Serialize, Default)]
struct Storage {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<File>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    links: Vec<Link>,
}

impl Storage {
    fn is_empty(&self) -> bool {
        self.files.is_empty() && self.links.is_empty()
    }
}

#[derive(Serialize)]
struct File {
    path: String,
    overwrite: bool,
    contents: Resource,
    mode: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<Id>,
    #[serde(skip_serializing_if = "Option::is_none")]
    group: Option<Id>,
}

#[derive(Serialize)]
struct Resource {
    source: String,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Id {
    Id { id: u32 },
    Name { name: String },
}

impl Id {
    fn parse(text: &str) -> Option<Id> {
        if text.is_empty() {
            return None;
        }
        Some(match text.parse::<u32>() {
            Ok(id) => Id::Id { id },
            Err(_) => Id::Name {
                name: text.to_string(),
            },
        })
    }
}

#[derive(Serialize)]
struct Link {
    path: String,
    target: String,
    overwrite: bool,
}

#[derive(Serialize, Default)]
struct Systemd {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    units: Vec<Unit>,
}

impl Systemd {
    fn is_empty(&self) -> bool {
        self.units.is_empty()
    }
}

#[derive(Serialize, Default)]
struct Unit {
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mask: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contents: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    dropins: Vec<Dropin>,
}

#[derive(Serialize)]
struct Dropin {
    name: String,
    contents: String,
}

/// An RFC 2397 `data:` URL: percent-encoded text, or base64 for other bytes.
#[must_use]
pub fn data_url(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => format!(
            "data:,{}",
            crate::encoding::percent_encode(text.as_bytes(), b"-._~")
        ),
        Err(_) => {
            use base64::Engine;
            format!(
                "data:;base64,{}",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }
    }
}

/// Split `/etc/systemd/system/x.service.d/y.conf` into (`x.service`, Some(`y.conf`)),
/// `/run/systemd/system/x.service` into (`x.service`, None); other paths give `None`.
fn unit_path(path: &str) -> Option<(&str, Option<&str>)> {
    let rest = path
        .strip_prefix("/etc/systemd/system/")
        .or_else(|| path.strip_prefix("/run/systemd/system/"))?;
    match rest.split_once('/') {
        None => Some((rest, None)),
        Some((dir, name)) if !name.contains('/') => Some((dir.strip_suffix(".d")?, Some(name))),
        Some(_) => None,
    }
}

/// Escape a file's text for a systemd-tmpfiles argument (C-style escapes).
fn tmpfiles_escape(bytes: &[u8]) -> String {
    let mut out = String::new();
    for &b in bytes {
        match b {
            b'\n' => out.push_str("\\n"),
            b'\t' => out.push_str("\\t"),
            b'\\' => out.push_str("\\\\"),
            b'%' => out.push_str("%%"),
            b' '..=b'~' => out.push(char::from(b)),
            other => out.push_str(&format!("\\x{other:02x}")),
        }
    }
    out
}

fn wants_target(name: &str) -> &'static str {
    if name.ends_with(".timer") {
        "timers.target"
    } else if name.ends_with(".socket") {
        "sockets.target"
    } else if name.ends_with(".path") {
        "paths.target"
    } else {
        "multi-user.target"
    }
}

fn user(spec: &UserSpec) -> User {
    User {
        name: spec.name.clone(),
        password_hash: spec.passwd.clone(),
        ssh_authorized_keys: spec.ssh_authorized_keys.clone(),
        gecos: spec.gecos.clone(),
        home_dir: spec.homedir.clone(),
        no_create_home: spec.no_create_home.then_some(true),
        primary_group: spec.primary_group.clone(),
        groups: spec.groups.clone(),
        no_user_group: spec.no_user_group.then_some(true),
        system: spec.system.then_some(true),
        no_log_init: spec.no_log_init.then_some(true),
        shell: spec.shell.clone(),
    }
}

/// The unit that writes `/etc/hosts` at boot for the node's own hostname.
const ETC_HOSTS_UNIT: &str = "[Unit]\nDescription=Write /etc/hosts for this node's hostname (manage_etc_hosts: localhost)\nAfter=systemd-hostnamed.service\n\n[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo \"127.0.0.1 $(hostname)\" > /etc/hosts'\n\n[Install]\nWantedBy=multi-user.target\n";

impl File {
    /// A file Ignition writes (over whatever is there) with `bytes`.
    fn new(path: String, bytes: &[u8], mode: u32, user: Option<Id>, group: Option<Id>) -> File {
        File {
            path,
            overwrite: true,
            contents: Resource {
                source: data_url(bytes),
            },
            mode,
            user,
            group,
        }
    }
}

/// The config as it is being drawn up from a plan: files, links, units (each name once,
/// in order of first mention), users and the lines of the tmpfiles snippet.
#[derive(Default)]
struct Draft {
    storage: Storage,
    units: Vec<Unit>,
    index: HashMap<String, usize>,
    tmpfiles: Vec<String>,
    users: Vec<User>,
    links_seen: HashSet<String>,
}

impl Draft {
    /// The unit `name`, added the first time it is named.
    fn unit(&mut self, name: &str) -> &mut Unit {
        let i = *self.index.entry(name.to_string()).or_insert_with(|| {
            self.units.push(Unit {
                name: name.to_string(),
                ..Unit::default()
            });
            self.units.len() - 1
        });
        &mut self.units[i]
    }

    /// A planned file: a unit's text, drop-in or mask, a networkd file (under /etc), a
    /// line of the tmpfiles snippet (other files under /run), or a file or link.
    fn file(&mut self, file: &PlannedFile) {
        match (&file.content, unit_path(&file.path)) {
            (Content::Bytes(bytes), Some((name, None))) => {
                self.unit(name).contents = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            (Content::Bytes(bytes), Some((name, Some(dropin)))) => {
                self.unit(name).dropins.push(Dropin {
                    name: dropin.to_string(),
                    contents: String::from_utf8_lossy(bytes).into_owned(),
                });
            }
            (Content::Symlink(target), Some((name, None))) if target == "/dev/null" => {
                self.unit(name).mask = Some(true);
            }
            (Content::Bytes(bytes), None) if file.path.starts_with("/run/systemd/network/") => {
                let path = file.path.replacen("/run/", "/etc/", 1);
                self.storage
                    .files
                    .push(File::new(path, bytes, file.mode, None, None));
            }
            (Content::Bytes(bytes), None) if file.path.starts_with("/run/") => {
                self.tmpfiles.push(format!(
                    "f+ {} {:04o} {} - {}",
                    file.path,
                    file.mode,
                    owner_pair(file.owner.as_deref()),
                    tmpfiles_escape(bytes)
                ));
            }
            (Content::Bytes(bytes), _) => {
                let (user, group) = match file.owner.as_deref() {
                    Some(owner) => match owner.split_once(':') {
                        Some((u, g)) => (Id::parse(u), Id::parse(g)),
                        None => (Id::parse(owner), None),
                    },
                    None => (None, None),
                };
                let path = file.path.clone();
                self.storage
                    .files
                    .push(File::new(path, bytes, file.mode, user, group));
            }
            (Content::Symlink(target), _) => self.storage.links.push(Link {
                path: file.path.clone(),
                target: target.clone(),
                overwrite: true,
            }),
        }
    }

    /// The tmpfiles snippet for the files under /run, if there are any.
    fn tmpfiles_snippet(&mut self) {
        if self.tmpfiles.is_empty() {
            return;
        }
        let mut text =
            String::from("# Files kindling's config puts under /run, recreated at every boot.\n");
        for line in &self.tmpfiles {
            text.push_str(line);
            text.push('\n');
        }
        self.storage.files.push(File::new(
            TMPFILES.into(),
            text.as_bytes(),
            0o644,
            None,
            None,
        ));
    }

    /// What an action means at first boot (most mean nothing).
    fn action(&mut self, kind: &ActionKind) {
        match kind {
            ActionKind::Enable { unit: name, .. } => self.unit(name).enabled = Some(true),
            ActionKind::Systemctl { verb, unit: name }
                if matches!(verb.as_str(), "start" | "restart" | "reload-or-restart") =>
            {
                self.start_at_boot(name);
            }
            ActionKind::CreateUser { user: spec } => self.users.push(user(spec)),
            ActionKind::AuthorizeKeys { user: name, keys } => {
                match self.users.iter_mut().find(|u| u.name == *name) {
                    Some(u) => u.ssh_authorized_keys.extend(keys.iter().cloned()),
                    None => self.users.push(User {
                        name: name.clone(),
                        ssh_authorized_keys: keys.clone(),
                        ..User::default()
                    }),
                }
            }
            ActionKind::WriteEtcHosts => {
                let unit = self.unit("kindling-etc-hosts.service");
                unit.enabled = Some(true);
                unit.contents = Some(ETC_HOSTS_UNIT.into());
            }
            _ => {}
        }
    }

    /// A unit the config starts: enabled, or wanted by its target when it has no
    /// `[Install]` section.
    fn start_at_boot(&mut self, name: &str) {
        let unit = self.unit(name);
        let without_install = unit
            .contents
            .as_deref()
            .is_some_and(|c| !c.lines().any(|l| l.trim() == "[Install]"));
        if !without_install {
            unit.enabled = Some(true);
            return;
        }
        let link = Link {
            path: format!("/etc/systemd/system/{}.wants/{name}", wants_target(name)),
            target: format!("/etc/systemd/system/{name}"),
            overwrite: true,
        };
        if self.links_seen.insert(link.path.clone()) {
            self.storage.links.push(link);
        }
    }
}

/// Render `plan` as an Ignition config (pretty JSON with a trailing newline).
#[must_use]
pub fn render(plan: &Plan) -> String {
    let mut draft = Draft::default();
    for file in &plan.files {
        draft.file(file);
    }
    draft.tmpfiles_snippet();
    for action in &plan.actions {
        draft.action(&action.kind);
    }
    let config = Config {
        ignition: Ignition { version: VERSION },
        passwd: Passwd { users: draft.users },
        storage: draft.storage,
        systemd: Systemd { units: draft.units },
    };
    let mut text = serde_json::to_string_pretty(&config).unwrap_or_default();
    text.push('\n');
    text
}

fn owner_pair(owner: Option<&str>) -> String {
    match owner {
        None => "- -".into(),
        Some(o) => match o.split_once(':') {
            Some((u, g)) => format!("{u} {g}"),
            None => format!("{o} -"),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(data_url(b"GROUP=stable\n"), "data:,GROUP%3Dstable%0A");
        assert_eq!(data_url(&[0xff, 0x00]), "data:;base64,/wA=");
    }

    #[test]
    fn unit_paths() {
        assert_eq!(
            unit_path("/etc/systemd/system/a.service"),
            Some(("a.service", None))
        );
        assert_eq!(
            unit_path("/run/systemd/system/a.service.d/b.conf"),
            Some(("a.service", Some("b.conf")))
        );
        assert_eq!(unit_path("/etc/systemd/network/a.network"), None);
        assert_eq!(unit_path("/etc/motd"), None);
    }
}
