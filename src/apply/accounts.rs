//! Users, SSH keys and a hostname-dependent `/etc/hosts`, as file edits of the root.
//!
//! kindling does not run `useradd --root` (it needs the root's login.defs and shadow tools,
//! and is not idempotent); it edits the root's `/etc/passwd`, `/etc/group` and
//! `/etc/shadow` directly, the way `useradd` would, and writes SSH keys the way
//! `update-ssh-keys` does: `~/.ssh/authorized_keys.d/coreos-cloudinit`, with
//! `~/.ssh/authorized_keys` regenerated from every file of that directory. These edits are
//! computed from what the root holds now and go through the same diff, generation and
//! atomic writes as every other file, so they are idempotent and can be rolled back.
//!
//! - A new user gets the lowest free uid from 1000 (from 101 for `system: true`), a group
//!   named after it with the same id unless `no_user_group` (then `primary_group`, or
//!   `users` = 100), a home directory `/home/NAME` (0755, owned by the user) unless
//!   `no_create_home`, the shell of `/etc/default/useradd` (else `/bin/sh`), and a shadow
//!   line with its hash (or `*`, locked); supplementary groups must exist, as for useradd.
//! - An existing user only gets its password hash set (coreos-cloudinit's `chpasswd -e`).
//! - Shadow lines carry no last-change date, so the same config gives the same bytes.

use std::collections::BTreeMap;

use super::error::ApplyError;
use crate::diagnostic::Span;
use crate::plan::{ActionKind, Content, Effect, Plan, PlannedFile, UserSpec};
use crate::root::{Observed, Root};

/// A directory to create (if missing) with a mode and owner, before files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dir {
    /// Node path.
    pub path: String,
    /// Mode.
    pub mode: u32,
    /// Owner ids.
    pub owner: (u32, u32),
}

/// The name kindling gives the keys it manages, as coreos-cloudinit does.
pub const KEY_NAME: &str = "coreos-cloudinit";

fn read(root: &Root, path: &str) -> Result<String, ApplyError> {
    Ok(match root.observe(path)? {
        Observed::File { bytes, .. } => String::from_utf8_lossy(&bytes).into_owned(),
        _ => String::new(),
    })
}

fn lines(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.split(':').map(str::to_string).collect())
        .collect()
}

fn join(table: &[Vec<String>]) -> String {
    let mut out = String::new();
    for row in table {
        out.push_str(&row.join(":"));
        out.push('\n');
    }
    out
}

fn free_id(used: &[u32], from: u32, to: u32) -> Option<u32> {
    (from..=to).find(|id| !used.contains(id))
}

fn field(row: &[String], i: usize) -> &str {
    row.get(i).map_or("", String::as_str)
}

struct Accounts {
    passwd: Vec<Vec<String>>,
    group: Vec<Vec<String>>,
    shadow: Vec<Vec<String>>,
    changed: bool,
}

impl Accounts {
    fn user(&self, name: &str) -> Option<&Vec<String>> {
        self.passwd.iter().find(|r| field(r, 0) == name)
    }

    fn group_id(&self, name: &str) -> Option<u32> {
        if let Ok(id) = name.parse() {
            return Some(id);
        }
        self.group
            .iter()
            .find(|r| field(r, 0) == name)
            .and_then(|r| field(r, 2).parse().ok())
    }

    fn add(
        &mut self,
        root: &Root,
        u: &UserSpec,
        shell: &str,
        dirs: &mut Vec<Dir>,
    ) -> Result<(), ApplyError> {
        let uids: Vec<u32> = self
            .passwd
            .iter()
            .filter_map(|r| field(r, 2).parse().ok())
            .collect();
        let gids: Vec<u32> = self
            .group
            .iter()
            .filter_map(|r| field(r, 2).parse().ok())
            .collect();
        let (from, to) = if u.system { (101, 999) } else { (1000, 59999) };
        let uid =
            free_id(&uids, from, to).ok_or_else(|| user_error(root, &u.name, "no free uid"))?;
        let gid = if u.no_user_group {
            match &u.primary_group {
                Some(g) => self.group_id(g).ok_or_else(|| {
                    user_error(root, &u.name, &format!("group {g:?} does not exist"))
                })?,
                None => 100,
            }
        } else if let Some(g) = &u.primary_group {
            self.group_id(g)
                .ok_or_else(|| user_error(root, &u.name, &format!("group {g:?} does not exist")))?
        } else {
            let gid = if gids.contains(&uid) {
                free_id(&gids, from, to).ok_or_else(|| user_error(root, &u.name, "no free gid"))?
            } else {
                uid
            };
            self.group.push(vec![
                u.name.clone(),
                "x".into(),
                gid.to_string(),
                String::new(),
            ]);
            gid
        };
        for g in &u.groups {
            let row = self
                .group
                .iter_mut()
                .find(|r| field(r, 0) == g)
                .ok_or_else(|| user_error(root, &u.name, &format!("group {g:?} does not exist")))?;
            while row.len() < 4 {
                row.push(String::new());
            }
            let members: Vec<&str> = row[3].split(',').filter(|m| !m.is_empty()).collect();
            if !members.contains(&u.name.as_str()) {
                row[3] = members
                    .into_iter()
                    .chain([u.name.as_str()])
                    .collect::<Vec<_>>()
                    .join(",");
            }
        }
        let home = u
            .homedir
            .clone()
            .unwrap_or_else(|| format!("/home/{}", u.name));
        self.passwd.push(vec![
            u.name.clone(),
            "x".into(),
            uid.to_string(),
            gid.to_string(),
            u.gecos.clone().unwrap_or_default(),
            home.clone(),
            u.shell.clone().unwrap_or_else(|| shell.to_string()),
        ]);
        self.shadow.push(vec![
            u.name.clone(),
            u.passwd.clone().unwrap_or_else(|| "*".into()),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
        ]);
        if !u.no_create_home {
            dirs.push(Dir {
                path: home,
                mode: 0o755,
                owner: (uid, gid),
            });
        }
        self.changed = true;
        Ok(())
    }

    fn set_password(&mut self, name: &str, hash: &str) {
        match self.shadow.iter_mut().find(|r| field(r, 0) == name) {
            Some(row) => {
                while row.len() < 2 {
                    row.push(String::new());
                }
                if row[1] != hash {
                    row[1] = hash.to_string();
                    self.changed = true;
                }
            }
            None => {
                let mut row = vec![name.to_string(), hash.to_string()];
                row.extend(std::iter::repeat_n(String::new(), 7));
                self.shadow.push(row);
                self.changed = true;
            }
        }
    }
}

fn user_error(root: &Root, name: &str, why: &str) -> ApplyError {
    ApplyError::Command {
        command: format!("create user {name} in {}", root.path().display()),
        message: why.to_string(),
    }
}

/// The keys to authorize for one user, in the order the config gives them, with the span
/// and origin of the first place that named them.
struct Keys {
    list: Vec<String>,
    span: Span,
    origin: String,
}

/// The files (and directories) the plan's user, key and hosts actions need on `root`.
///
/// # Errors
/// For a supplementary group that does not exist, keys for a user the root does not have,
/// or `/etc/hosts` for a root without a hostname.
pub fn derive(root: &Root, plan: &Plan) -> Result<(Vec<PlannedFile>, Vec<Dir>), ApplyError> {
    let wants = plan.actions.iter().any(|a| {
        matches!(
            a.kind,
            ActionKind::CreateUser { .. }
                | ActionKind::AuthorizeKeys { .. }
                | ActionKind::WriteEtcHosts
        )
    });
    if !wants {
        return Ok((Vec::new(), Vec::new()));
    }
    let mut acc = Accounts {
        passwd: lines(&read(root, "/etc/passwd")?),
        group: lines(&read(root, "/etc/group")?),
        shadow: lines(&read(root, "/etc/shadow")?),
        changed: false,
    };
    let shell = read(root, "/etc/default/useradd")?
        .lines()
        .find_map(|l| l.strip_prefix("SHELL=").map(str::to_string))
        .unwrap_or_else(|| "/bin/sh".into());
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    let mut keys: BTreeMap<String, Keys> = BTreeMap::new();
    let mut first_span = Span::default();
    for (i, a) in plan.actions.iter().enumerate() {
        match &a.kind {
            ActionKind::CreateUser { user } => {
                if i == 0 || first_span == Span::default() {
                    first_span = a.span;
                }
                if acc.user(&user.name).is_none() {
                    acc.add(root, user, &shell, &mut dirs)?;
                } else if let Some(hash) = &user.passwd {
                    acc.set_password(&user.name, hash);
                }
                if !user.ssh_authorized_keys.is_empty() {
                    let origin = format!("users ({})", user.name);
                    add_keys(
                        &mut keys,
                        &user.name,
                        &user.ssh_authorized_keys,
                        a.span,
                        origin,
                    );
                }
            }
            ActionKind::AuthorizeKeys { user, keys: list } => {
                add_keys(&mut keys, user, list, a.span, "ssh_authorized_keys".into());
            }
            ActionKind::WriteEtcHosts => files.push(etc_hosts(root, a.span)?),
            _ => {}
        }
    }
    if acc.changed {
        for (path, table, mode) in [
            ("/etc/passwd", &acc.passwd, 0o644),
            ("/etc/group", &acc.group, 0o644),
            ("/etc/shadow", &acc.shadow, 0o640),
        ] {
            files.push(file(path, join(table), mode, None, first_span, "users"));
        }
    }
    for (name, wanted) in keys {
        authorize(root, &acc, &name, &wanted, &mut files, &mut dirs)?;
    }
    Ok((files, dirs))
}

fn add_keys(
    keys: &mut BTreeMap<String, Keys>,
    user: &str,
    list: &[String],
    span: Span,
    origin: String,
) {
    let entry = keys.entry(user.to_string()).or_insert_with(|| Keys {
        list: Vec::new(),
        span,
        origin,
    });
    entry.list.extend(list.iter().cloned());
}

/// `/etc/hosts` naming the root's hostname.
fn etc_hosts(root: &Root, span: Span) -> Result<PlannedFile, ApplyError> {
    let hostname = read(root, "/etc/hostname")?.trim().to_string();
    if hostname.is_empty() {
        return Err(ApplyError::Command {
            command: "manage_etc_hosts: localhost".into(),
            message: format!(
                "{} has no /etc/hostname to write /etc/hosts from; set hostname in the config",
                root.path().display()
            ),
        });
    }
    Ok(file(
        "/etc/hosts",
        format!("127.0.0.1 {hostname}\n"),
        0o644,
        None,
        span,
        "manage_etc_hosts",
    ))
}

/// The key files of user `name` (ours in `authorized_keys.d`, and `authorized_keys`
/// regenerated from every file there) and the `.ssh` directories they need.
fn authorize(
    root: &Root,
    acc: &Accounts,
    name: &str,
    wanted: &Keys,
    files: &mut Vec<PlannedFile>,
    dirs: &mut Vec<Dir>,
) -> Result<(), ApplyError> {
    let row = acc.user(name).ok_or_else(|| ApplyError::Command {
        command: format!("authorize SSH keys for {name}"),
        message: format!(
            "{name} is not a user of {}/etc/passwd",
            root.path().display()
        ),
    })?;
    let (uid, gid): (u32, u32) = (
        field(row, 2).parse().unwrap_or(0),
        field(row, 3).parse().unwrap_or(0),
    );
    let home = field(row, 5).trim_end_matches('/').to_string();
    let owner = Some(format!("{uid}:{gid}"));
    let ssh = format!("{home}/.ssh");
    for path in [ssh.clone(), format!("{ssh}/authorized_keys.d")] {
        dirs.push(Dir {
            path,
            mode: 0o700,
            owner: (uid, gid),
        });
    }
    let mut ours = String::new();
    for k in &wanted.list {
        ours.push_str(k.trim());
        ours.push('\n');
    }
    let combined = combined_keys(root, &ssh, &ours);
    files.push(file(
        &format!("{ssh}/authorized_keys.d/{KEY_NAME}"),
        ours,
        0o600,
        owner.clone(),
        wanted.span,
        &wanted.origin,
    ));
    files.push(file(
        &format!("{ssh}/authorized_keys"),
        combined,
        0o600,
        owner,
        wanted.span,
        &wanted.origin,
    ));
    Ok(())
}

/// `authorized_keys` = every file of `authorized_keys.d`, by name, `ours` included.
fn combined_keys(root: &Root, ssh: &str, ours: &str) -> String {
    let mut all: BTreeMap<String, String> = BTreeMap::new();
    if let Ok(dir) = root.resolve(&format!("{ssh}/authorized_keys.d/x"))
        && let Some(parent) = dir.parent()
    {
        for entry in std::fs::read_dir(parent).into_iter().flatten().flatten() {
            let n = entry.file_name().to_string_lossy().into_owned();
            if n != KEY_NAME && !n.starts_with('.') {
                all.insert(n, std::fs::read_to_string(entry.path()).unwrap_or_default());
            }
        }
    }
    all.insert(KEY_NAME.to_string(), ours.to_string());
    all.values()
        .map(|v| {
            if v.ends_with('\n') || v.is_empty() {
                v.clone()
            } else {
                format!("{v}\n")
            }
        })
        .collect()
}

fn file(
    path: &str,
    text: String,
    mode: u32,
    owner: Option<String>,
    span: Span,
    origin: &str,
) -> PlannedFile {
    PlannedFile {
        path: path.to_string(),
        content: Content::Bytes(text.into_bytes()),
        mode,
        owner,
        effect: Effect::InService,
        span,
        origin: origin.to_string(),
    }
}
