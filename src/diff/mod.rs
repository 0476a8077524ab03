//! Diff: what applying a plan would change, as data, and its rendering.
//!
//! `compare` is pure: it takes the plan and what is there now (`Now`, read from a root by
//! `apply::observe_plan`, or another config's plan for `kindling diff OLD NEW`) and returns
//! one `FileChange` per planned file that differs (created, content, mode, owner, type) and
//! the actions that would run. Rendering gives a unified diff (`similar`) with colour only on
//! a terminal, or JSON.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::plan::{ActionKind, Content, Effect, Plan, PlannedFile};

/// Who owns a file, as far as the comparison can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// Numeric ids (a real root).
    Ids(u32, u32),
    /// As written in a config (`OLD NEW` mode); `root:root` when none.
    Name(String),
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Owner::Ids(u, g) => write!(f, "{u}:{g}"),
            Owner::Name(n) => f.write_str(n),
        }
    }
}

/// What is at a planned path now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Now {
    /// Nothing.
    Missing,
    /// A regular file.
    File {
        /// Bytes.
        bytes: Vec<u8>,
        /// Mode.
        mode: u32,
        /// Owner.
        owner: Owner,
    },
    /// A link.
    Symlink(String),
    /// A directory (a file cannot replace it).
    Directory,
    /// Something else (device, socket).
    Other,
}

/// How one planned file differs from what is there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FileChange {
    /// The node path.
    pub path: String,
    /// `create`, `modify` or `replace` (a different kind of file is there).
    pub change: &'static str,
    /// The content differs.
    pub content: bool,
    /// (old, new) modes when the mode differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<(String, String)>,
    /// (old, new) owners when the owner differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<(String, String)>,
    /// When the change takes effect.
    pub effect: Effect,
    /// Where in the config it comes from.
    pub origin: String,
    /// The old bytes (for the unified diff); not serialised.
    #[serde(skip)]
    pub old: Option<Vec<u8>>,
    /// The new bytes or link target; not serialised.
    #[serde(skip)]
    pub new: Vec<u8>,
}

/// An action that applying would run, with why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActionChange {
    /// The action.
    #[serde(flatten)]
    pub kind: ActionKind,
    /// When it takes effect.
    pub effect: Effect,
}

/// The whole difference.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Diff {
    /// Files that would change.
    pub files: Vec<FileChange>,
    /// Actions that would run.
    pub actions: Vec<ActionChange>,
    /// Files a directory stands in the way of (apply would refuse).
    pub blocked: Vec<String>,
}

impl Diff {
    /// Whether applying would change nothing.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.actions.is_empty() && self.blocked.is_empty()
    }

    /// `3 files to create, 1 to modify, 2 actions (1 needs a reboot)`.
    #[must_use]
    pub fn summary(&self) -> String {
        if self.is_empty() {
            return "no changes".into();
        }
        let created = self.files.iter().filter(|f| f.change == "create").count();
        let modified = self.files.len() - created;
        let reboot = self
            .files
            .iter()
            .map(|f| f.effect)
            .chain(self.actions.iter().map(|a| a.effect))
            .filter(|e| *e == Effect::RebootRequired)
            .count();
        let mut parts = vec![
            format!(
                "{created} file{} to create",
                if created == 1 { "" } else { "s" }
            ),
            format!("{modified} to change"),
            format!(
                "{} action{}",
                self.actions.len(),
                if self.actions.len() == 1 { "" } else { "s" }
            ),
        ];
        if !self.blocked.is_empty() {
            parts.push(format!("{} blocked by a directory", self.blocked.len()));
        }
        let tail = if reboot > 0 {
            format!(
                "; {reboot} change{} take{} effect only after a reboot",
                if reboot == 1 { "" } else { "s" },
                if reboot == 1 { "s" } else { "" }
            )
        } else {
            "; all in service".to_string()
        };
        format!("{}{tail}", parts.join(", "))
    }
}

fn planned_bytes(f: &PlannedFile) -> Vec<u8> {
    match &f.content {
        Content::Bytes(b) => b.clone(),
        Content::Symlink(t) => t.clone().into_bytes(),
    }
}

/// The actions of `plan` that would run, given which files change: a unit's command runs
/// when one of its files changes, or a file from the same config entry does (update.conf
/// and the update-engine restart both come from `coreos.update`), or when it was never
/// done; daemon-reload when any unit file or drop-in changes; networkd restarts when a
/// network file changes; the others run when they are not yet done (`done` says which were
/// recorded as done by a previous apply).
#[must_use]
pub fn actions(
    plan: &Plan,
    changed: &[&str],
    done: &dyn Fn(&ActionKind) -> bool,
) -> Vec<ActionChange> {
    let changed_spans: Vec<crate::diagnostic::Span> = plan
        .files
        .iter()
        .filter(|f| changed.contains(&f.path.as_str()))
        .map(|f| f.span)
        .collect();
    let unit_changed = |unit: &str| {
        changed
            .iter()
            .any(|p| p.ends_with(&format!("/{unit}")) || p.contains(&format!("/{unit}.d/")))
    };
    let any_unit = changed
        .iter()
        .any(|p| p.starts_with("/etc/systemd/") || p.starts_with("/run/systemd/"));
    let any_network = changed.iter().any(|p| p.contains("/systemd/network/"));
    let mut out = Vec::new();
    for a in &plan.actions {
        let run = match &a.kind {
            ActionKind::DaemonReload => any_unit,
            ActionKind::RestartNetworkd => any_network,
            ActionKind::Systemctl { unit, .. } => {
                unit_changed(unit) || changed_spans.contains(&a.span) || !done(&a.kind)
            }
            _ => !done(&a.kind),
        };
        if run {
            out.push(ActionChange {
                kind: a.kind.clone(),
                effect: a.effect,
            });
        }
    }
    out
}

/// Compare `plan` with what is there (`now`, one entry per planned path, in plan order);
/// `owner` turns a planned owner into the form `now` uses.
#[must_use]
pub fn compare(
    plan: &Plan,
    now: &[Now],
    owner: &dyn Fn(Option<&str>) -> Owner,
    done: &dyn Fn(&ActionKind) -> bool,
) -> Diff {
    let mut diff = Diff::default();
    for (f, current) in plan.files.iter().zip(now) {
        let new = planned_bytes(f);
        let want_owner = owner(f.owner.as_deref());
        let change = match (&f.content, current) {
            (_, Now::Directory) => {
                diff.blocked.push(f.path.clone());
                continue;
            }
            (_, Now::Missing) => Some(FileChange {
                path: f.path.clone(),
                change: "create",
                content: true,
                mode: None,
                owner: None,
                effect: f.effect,
                origin: f.origin.clone(),
                old: None,
                new,
            }),
            (
                Content::Bytes(b),
                Now::File {
                    bytes,
                    mode,
                    owner: have,
                },
            ) => {
                let content = b != bytes;
                let mode_change =
                    (*mode != f.mode).then(|| (format!("{mode:04o}"), format!("{:04o}", f.mode)));
                let owner_change =
                    (*have != want_owner).then(|| (have.to_string(), want_owner.to_string()));
                (content || mode_change.is_some() || owner_change.is_some()).then(|| FileChange {
                    path: f.path.clone(),
                    change: "modify",
                    content,
                    mode: mode_change,
                    owner: owner_change,
                    effect: f.effect,
                    origin: f.origin.clone(),
                    old: Some(bytes.clone()),
                    new,
                })
            }
            (Content::Symlink(t), Now::Symlink(have)) => (t != have).then(|| FileChange {
                path: f.path.clone(),
                change: "modify",
                content: true,
                mode: None,
                owner: None,
                effect: f.effect,
                origin: f.origin.clone(),
                old: Some(have.clone().into_bytes()),
                new,
            }),
            (_, other) => Some(FileChange {
                path: f.path.clone(),
                change: "replace",
                content: true,
                mode: None,
                owner: None,
                effect: f.effect,
                origin: f.origin.clone(),
                old: match other {
                    Now::File { bytes, .. } => Some(bytes.clone()),
                    Now::Symlink(t) => Some(t.clone().into_bytes()),
                    _ => None,
                },
                new,
            }),
        };
        diff.files.extend(change);
    }
    let changed: Vec<&str> = diff.files.iter().map(|f| f.path.as_str()).collect();
    diff.actions = actions(plan, &changed, done);
    diff
}

/// What a plan would leave on a node, as `Now` entries, for `kindling diff OLD NEW`.
#[must_use]
pub fn now_from_plan(old: &Plan, paths: &[&str]) -> Vec<Now> {
    let by_path: BTreeMap<&str, &PlannedFile> =
        old.files.iter().map(|f| (f.path.as_str(), f)).collect();
    paths
        .iter()
        .map(|p| match by_path.get(p) {
            None => Now::Missing,
            Some(f) => match &f.content {
                Content::Bytes(b) => Now::File {
                    bytes: b.clone(),
                    mode: f.mode,
                    owner: Owner::Name(f.owner.clone().unwrap_or_else(|| "root:root".into())),
                },
                Content::Symlink(t) => Now::Symlink(t.clone()),
            },
        })
        .collect()
}

/// An action in words (`systemctl restart x.service`).
#[must_use]
pub fn describe(kind: &ActionKind) -> String {
    match kind {
        ActionKind::SetHostname { hostname } => format!("hostnamectl set-hostname {hostname}"),
        ActionKind::CreateUser { user } => format!("create user {}", user.name),
        ActionKind::AuthorizeKeys { user, keys } => {
            format!("authorize {} SSH key(s) for {user}", keys.len())
        }
        ActionKind::WriteEtcHosts => "write /etc/hosts for the node's hostname".into(),
        ActionKind::Unmask { unit, .. } => format!("unmask {unit} (runtime)"),
        ActionKind::Enable { unit, runtime } => {
            format!(
                "systemctl enable{} {unit}",
                if *runtime { " --runtime" } else { "" }
            )
        }
        ActionKind::DaemonReload => "systemctl daemon-reload".into(),
        ActionKind::RestartNetworkd => "systemctl restart systemd-networkd.service".into(),
        ActionKind::Systemctl { verb, unit } => format!("systemctl {verb} {unit}"),
    }
}

/// A unified diff of the whole change, for people.
#[must_use]
pub fn render(diff: &Diff, color: bool) -> String {
    let paint = |code: &str, text: &str| {
        if color {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    };
    let mut out = String::new();
    for f in &diff.files {
        let tag = format!("[{}]", f.effect.as_str());
        out.push_str(&paint(
            "1",
            &format!("{} {} {tag} (from {})\n", f.change, f.path, f.origin),
        ));
        if let Some((a, b)) = &f.mode {
            out.push_str(&format!("  mode {a} -> {b}\n"));
        }
        if let Some((a, b)) = &f.owner {
            out.push_str(&format!("  owner {a} -> {b}\n"));
        }
        if f.content {
            let old = String::from_utf8_lossy(f.old.as_deref().unwrap_or(b""));
            let new = String::from_utf8_lossy(&f.new);
            let text_diff = similar::TextDiff::from_lines(old.as_ref(), new.as_ref());
            let unified = text_diff
                .unified_diff()
                .context_radius(3)
                .header(&format!("a{}", f.path), &format!("b{}", f.path))
                .to_string();
            for line in unified.lines() {
                let colored = if line.starts_with('+') && !line.starts_with("+++") {
                    paint("32", line)
                } else if line.starts_with('-') && !line.starts_with("---") {
                    paint("31", line)
                } else if line.starts_with("@@") {
                    paint("36", line)
                } else {
                    line.to_string()
                };
                out.push_str(&colored);
                out.push('\n');
            }
        }
    }
    for path in &diff.blocked {
        out.push_str(&paint(
            "31",
            &format!("blocked {path}: a directory is there; apply refuses to replace it\n"),
        ));
    }
    for a in &diff.actions {
        out.push_str(&format!(
            "run {} [{}]\n",
            describe(&a.kind),
            a.effect.as_str()
        ));
    }
    out.push_str(&diff.summary());
    out.push('\n');
    out
}

/// The diff as JSON, for tools.
#[must_use]
pub fn render_json(diff: &Diff) -> String {
    let mut v = serde_json::to_value(diff).unwrap_or_default();
    if let serde_json::Value::Object(m) = &mut v {
        m.insert("summary".into(), serde_json::Value::String(diff.summary()));
        m.insert("changed".into(), serde_json::Value::Bool(!diff.is_empty()));
    }
    let mut text = serde_json::to_string_pretty(&v).unwrap_or_default();
    text.push('\n');
    text
}
