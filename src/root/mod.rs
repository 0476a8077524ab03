//! A node's root directory as `diff` and `apply` see it: paths resolved inside it, what is
//! at a path now, and owner names resolved against the root's own `/etc/passwd` and
//! `/etc/group`.
//!
//! Confinement: every path is resolved component by component as a chroot would resolve
//! it. A symbolic link met on the way is followed inside the root (an absolute target is
//! read relative to the root, `..` never climbs above it), so no path can lead outside; a
//! loop or a chain of more than 40 links is an error. The last component is never followed:
//! a link there is what is *at* the path, and writing replaces the link itself.
//!
//! This module only reads. `apply` is the one module that writes.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// A node path made plain without looking at any disk, as Go's `path.Clean(path.Join("/",
/// p))` does (coreos-cloudinit's own normalisation): absolute, no empty, `.` or `..`
/// components (`..` stops at `/`). The plan and the path rules compare paths through it.
#[must_use]
pub fn clean(path: &str) -> String {
    // Most paths are clean already: absolute, no empty, `.` or `..` components.
    let already = path.starts_with('/')
        && path.len() > 1
        && !path.ends_with('/')
        && path[1..]
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != "..");
    if already {
        return path.to_string();
    }
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// Why a path cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// Not an absolute, plain path.
    #[error("{0:?} is not an absolute path without `..`")]
    BadPath(String),
    /// Too many links.
    #[error("{0}: too many symbolic links (a loop?)")]
    Loop(String),
    /// A parent is not a directory.
    #[error("{path}: {parent} is not a directory")]
    NotADirectory {
        /// The path asked for.
        path: String,
        /// The component that is a file.
        parent: String,
    },
    /// The file system said no.
    #[error("{path}: {source}")]
    Io {
        /// Where.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// An owner that the root's passwd/group does not know.
    #[error("unknown {kind} {name:?} in {root}/etc/{file}")]
    UnknownOwner {
        /// `user` or `group`.
        kind: &'static str,
        /// The name.
        name: String,
        /// The root.
        root: String,
        /// `passwd` or `group`.
        file: &'static str,
    },
}

/// What is at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// Nothing.
    Missing,
    /// A regular file.
    File {
        /// Its bytes.
        bytes: Vec<u8>,
        /// Permission bits (with special bits).
        mode: u32,
        /// Owner uid.
        uid: u32,
        /// Owner gid.
        gid: u32,
    },
    /// A symbolic link.
    Symlink {
        /// Where it points.
        target: String,
    },
    /// A directory.
    Directory,
    /// A device, socket or pipe.
    Other,
}

/// A root directory.
#[derive(Debug, Clone)]
pub struct Root {
    path: PathBuf,
}

const MAX_LINKS: usize = 40;

impl Root {
    /// The root at `path` (which must exist and be a directory).
    ///
    /// # Errors
    /// When it is not a directory.
    pub fn new(path: &Path) -> Result<Root, RootError> {
        let path = fs::canonicalize(path).map_err(|source| RootError::Io {
            path: path.display().to_string(),
            source,
        })?;
        if !path.is_dir() {
            return Err(RootError::NotADirectory {
                path: path.display().to_string(),
                parent: path.display().to_string(),
            });
        }
        Ok(Root { path })
    }

    /// The root's own path on this machine.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this is the running system's root.
    #[must_use]
    pub fn is_host(&self) -> bool {
        self.path == Path::new("/")
    }

    /// The host path of node path `node` (absolute, cleaned), with every directory on the
    /// way resolved inside the root. The last component is not followed. Missing parents are
    /// fine (they resolve as plain names).
    ///
    /// # Errors
    /// For a bad path, a link loop, or a parent that is a file.
    pub fn resolve(&self, node: &str) -> Result<PathBuf, RootError> {
        let rel = Path::new(node)
            .strip_prefix("/")
            .map_err(|_| RootError::BadPath(node.to_string()))?;
        let mut parts: Vec<std::ffi::OsString> = Vec::new();
        for c in rel.components() {
            match c {
                Component::Normal(p) => parts.push(p.to_os_string()),
                _ => return Err(RootError::BadPath(node.to_string())),
            }
        }
        let Some(last) = parts.pop() else {
            return Err(RootError::BadPath(node.to_string()));
        };
        let dir = self.resolve_dir(node, parts)?;
        Ok(dir.join(last))
    }

    /// Resolve directory components, following links inside the root.
    fn resolve_dir(
        &self,
        node: &str,
        parts: Vec<std::ffi::OsString>,
    ) -> Result<PathBuf, RootError> {
        // `current` is relative to the root, as plain components.
        let mut current: Vec<std::ffi::OsString> = Vec::new();
        let mut pending: std::collections::VecDeque<std::ffi::OsString> = parts.into();
        let mut hops = 0;
        while let Some(part) = pending.pop_front() {
            if part == ".." {
                current.pop();
                continue;
            }
            if part == "." || part.is_empty() {
                continue;
            }
            let candidate = self
                .path
                .join(current.iter().collect::<PathBuf>())
                .join(&part);
            match fs::symlink_metadata(&candidate) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    hops += 1;
                    if hops > MAX_LINKS {
                        return Err(RootError::Loop(node.to_string()));
                    }
                    let target = fs::read_link(&candidate).map_err(|source| RootError::Io {
                        path: node.to_string(),
                        source,
                    })?;
                    if target.is_absolute() {
                        current.clear();
                    }
                    let mut next: Vec<std::ffi::OsString> = target
                        .components()
                        .filter_map(|c| match c {
                            Component::Normal(p) => Some(p.to_os_string()),
                            Component::ParentDir => Some("..".into()),
                            _ => None,
                        })
                        .collect();
                    next.extend(pending.drain(..));
                    pending = next.into();
                }
                Ok(meta) if !meta.is_dir() => {
                    return Err(RootError::NotADirectory {
                        path: node.to_string(),
                        parent: format!(
                            "/{}",
                            current
                                .iter()
                                .chain([&part])
                                .map(|p| p.to_string_lossy())
                                .collect::<Vec<_>>()
                                .join("/")
                        ),
                    });
                }
                _ => current.push(part),
            }
        }
        Ok(self.path.join(current.iter().collect::<PathBuf>()))
    }

    /// What is at each of `nodes`, resolving each parent directory once (a plan has
    /// thousands of files in a handful of directories).
    ///
    /// # Errors
    /// When a path cannot be resolved or read.
    pub fn observe_many(&self, nodes: &[&str]) -> Result<Vec<Observed>, RootError> {
        let mut parents: HashMap<&str, PathBuf> = HashMap::new();
        nodes
            .iter()
            .map(|node| {
                let (parent, name) = node.rsplit_once('/').unwrap_or(("", node));
                let host = match parents.get(parent) {
                    Some(dir) if !name.is_empty() && name != "." && name != ".." => dir.join(name),
                    _ => {
                        let resolved = match self.resolve(node) {
                            Ok(p) => p,
                            Err(RootError::NotADirectory { .. }) => return Ok(Observed::Missing),
                            Err(e) => return Err(e),
                        };
                        if let Some(dir) = resolved.parent() {
                            parents.insert(parent, dir.to_path_buf());
                        }
                        resolved
                    }
                };
                self.observe_host(node, &host)
            })
            .collect()
    }

    /// What is at node path `node` now.
    ///
    /// # Errors
    /// When the path cannot be resolved or read.
    pub fn observe(&self, node: &str) -> Result<Observed, RootError> {
        let path = match self.resolve(node) {
            Ok(p) => p,
            Err(RootError::NotADirectory { .. }) => return Ok(Observed::Missing),
            Err(e) => return Err(e),
        };
        self.observe_host(node, &path)
    }

    fn observe_host(&self, node: &str, path: &Path) -> Result<Observed, RootError> {
        let io = |source| RootError::Io {
            path: node.to_string(),
            source,
        };
        let meta = match fs::symlink_metadata(path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Observed::Missing),
            Err(e) => return Err(io(e)),
        };
        let ft = meta.file_type();
        Ok(if ft.is_symlink() {
            Observed::Symlink {
                target: fs::read_link(path)
                    .map_err(io)?
                    .to_string_lossy()
                    .into_owned(),
            }
        } else if ft.is_dir() {
            Observed::Directory
        } else if ft.is_file() {
            Observed::File {
                bytes: fs::read(path).map_err(io)?,
                mode: meta.permissions().mode() & 0o7777,
                uid: meta.uid(),
                gid: meta.gid(),
            }
        } else {
            Observed::Other
        })
    }

    /// The root's `/etc/passwd` or `/etc/group` as name -> (id, primary gid).
    fn table(&self, file: &str) -> HashMap<String, (u32, u32)> {
        let Ok(path) = self.resolve(&format!("/etc/{file}")) else {
            return HashMap::new();
        };
        let text = fs::read_to_string(path).unwrap_or_default();
        text.lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(':').collect();
                let id = f.get(2)?.parse().ok()?;
                let gid = f.get(3).and_then(|g| g.parse().ok()).unwrap_or(id);
                Some((f[0].to_string(), (id, gid)))
            })
            .collect()
    }

    /// Resolve `user`, `user:group`, numeric ids; `None` is root:root. Names are looked up
    /// in the root's own passwd and group files; `root` and numbers always resolve.
    ///
    /// # Errors
    /// For a name the root does not know.
    pub fn owner(&self, owner: Option<&str>) -> Result<(u32, u32), RootError> {
        let Some(owner) = owner.filter(|o| !o.is_empty()) else {
            return Ok((0, 0));
        };
        let (user, group) = match owner.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (owner, None),
        };
        let root_name = self.path.display().to_string();
        let (uid, primary) = if let Ok(id) = user.parse::<u32>() {
            (id, id)
        } else if user == "root" {
            (0, 0)
        } else {
            *self
                .table("passwd")
                .get(user)
                .ok_or_else(|| RootError::UnknownOwner {
                    kind: "user",
                    name: user.to_string(),
                    root: root_name.clone(),
                    file: "passwd",
                })?
        };
        let gid = match group.filter(|g| !g.is_empty()) {
            None => primary,
            Some(g) => {
                if let Ok(id) = g.parse::<u32>() {
                    id
                } else if g == "root" {
                    0
                } else {
                    self.table("group")
                        .get(g)
                        .map(|(id, _)| *id)
                        .ok_or_else(|| RootError::UnknownOwner {
                            kind: "group",
                            name: g.to_string(),
                            root: root_name,
                            file: "group",
                        })?
                }
            }
        };
        Ok((uid, gid))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn cleaning() {
        for (path, cleaned) in [
            ("/etc//x", "/etc/x"),
            ("etc/./x", "/etc/x"),
            ("/tmp/../usr/x", "/usr/x"),
            ("/../../x", "/x"),
        ] {
            assert_eq!(clean(path), cleaned);
        }
    }

    #[test]
    fn resolution_stays_inside() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        fs::create_dir_all(dir.path().join("real/opt")).unwrap();
        symlink("/real/opt", dir.path().join("opt")).unwrap();
        symlink("../../../../etc", dir.path().join("escape")).unwrap();
        let p = root.resolve("/opt/bin/x").unwrap();
        assert_eq!(p, root.path().join("real/opt/bin/x"));
        let p = root.resolve("/escape/passwd").unwrap();
        assert_eq!(p, root.path().join("etc/passwd"), "`..` stops at the root");
        symlink("loop2", dir.path().join("loop1")).unwrap();
        symlink("loop1", dir.path().join("loop2")).unwrap();
        assert!(matches!(root.resolve("/loop1/x"), Err(RootError::Loop(_))));
        assert!(root.resolve("/../x").is_err());
        fs::write(dir.path().join("file"), "x").unwrap();
        assert!(matches!(
            root.resolve("/file/x"),
            Err(RootError::NotADirectory { .. })
        ));
    }

    #[test]
    fn owners_come_from_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path()).unwrap();
        assert_eq!(root.owner(None).unwrap(), (0, 0));
        assert_eq!(root.owner(Some("root:root")).unwrap(), (0, 0));
        assert_eq!(root.owner(Some("1000:50")).unwrap(), (1000, 50));
        assert!(root.owner(Some("core")).is_err());
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(
            dir.path().join("etc/passwd"),
            "core:x:500:500::/home/core:/bin/bash\n",
        )
        .unwrap();
        fs::write(dir.path().join("etc/group"), "docker:x:233:core\n").unwrap();
        assert_eq!(root.owner(Some("core")).unwrap(), (500, 500));
        assert_eq!(root.owner(Some("core:docker")).unwrap(), (500, 233));
        assert!(root.owner(Some("core:nogroup")).is_err());
    }
}
