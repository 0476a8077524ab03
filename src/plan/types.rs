//! The plan's vocabulary: the files and actions a plan holds, when each takes effect, and the
//! options planning takes. Data only.

use serde::Serialize;

use crate::diagnostic::Span;

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

impl PlannedFile {
    /// A file that no place in a config asks for (made from metadata, a package, the boot
    /// units): owned as the default owner, its span the start of the text.
    #[must_use]
    pub fn unplaced(
        path: String,
        content: Content,
        mode: u32,
        effect: Effect,
        origin: String,
    ) -> Self {
        PlannedFile {
            path,
            content,
            mode,
            owner: None,
            effect,
            span: Span::point(0),
            origin,
        }
    }
}

impl Action {
    /// An action that no place in a config asks for: its span the start of the text.
    #[must_use]
    pub fn unplaced(kind: ActionKind, effect: Effect) -> Self {
        Action {
            kind,
            effect,
            span: Span::point(0),
        }
    }
}

impl Plan {
    /// The file at `path`, if planned.
    #[must_use]
    pub fn file(&self, path: &str) -> Option<&PlannedFile> {
        self.files.iter().find(|f| f.path == path)
    }
}
