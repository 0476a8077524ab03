//! Apply: converge a root directory to a plan. The only module that writes a host.
//!
//! Converge, don't replay: only files that differ are written, and only actions whose
//! inputs changed run (a record of what was done lives in `/var/lib/kindling/state.json`).
//! Paths are resolved inside the root (`root::Root`); a directory where a file is planned is
//! refused before anything is written.
//!
//! Every write is atomic and durable, and the changed files of one apply (or rollback) are
//! written as one batch (`batch`): each as a temporary file beside its target with mode and
//! owner set on the open file, then ONE `syncfs` of the file system, then every rename, then
//! one more `syncfs` for the renames (measured faster than an fsync of each parent
//! directory). `syncfs` puts the data and metadata of every file of that file system on the
//! disk, so every temporary is whole before the first rename, and a crash, kill or power loss
//! at any point leaves each target its old or its new content, whole; a failed `syncfs` fails
//! the apply before any rename. This replaces two fsyncs per file (issue 13: the boot-time
//! apply was fsync-bound: 74 fsyncs for a fresh root, now 3 `syncfs` and 6 fsyncs). The order
//! on the disk is:
//! 1. the generation: the previous state of every path about to change (and of the state
//!    file) written to a staging directory under `/var/lib/kindling/generations/`, one
//!    `syncfs`, renamed into place, the directory fsynced — so `rollback` can restore
//!    everything before anything changes;
//! 2. the `unfinished` marker (a lone atomic write, `write_file`), so the next apply sweeps a
//!    killed apply's `.kindling-` temporaries;
//! 3. the batch of changed files;
//! 4. actions, the state file (`write_file`), the marker removed.
//!
//! Enablement uses the real `systemctl --root=DIR enable`, one call for each run of
//! consecutive units (retried unit by unit when it fails, so the error names the unit).
//! daemon-reload, unit commands, networkd restarts and hostnamectl run only when the root is
//! `/` and systemd is running; otherwise they are listed as pending in the report. Users, SSH
//! keys and a hostname-dependent `/etc/hosts` become edits of the root's files (`accounts`),
//! diffed and written like any other file (in the same batch).
//!
//! The children's shared vocabulary is in files of their own (`error`: [`ApplyError`];
//! `write`: parents, staging, the lone durable write, removal), so no child names this file.
//!
//! This module must never rename a file over its target before the sync that made it whole
//! has succeeded, never write outside the root, and never write when the plan is already
//! converged.

pub mod accounts;
mod batch;
mod error;
mod write;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::diff::{self, ActionChange, Diff, Now, Owner};
use crate::plan::{ActionKind, Content, Plan};
use crate::root::{Observed, Root};

use batch::{Batch, SyncFs, syncfs};
pub use error::ApplyError;
use error::io;
pub(crate) use write::write_file;
use write::{make_parents, remove, sync_dir};

/// Where kindling keeps its state on a node.
pub const STATE_DIR: &str = "/var/lib/kindling";
const STATE_FILE: &str = "/var/lib/kindling/state.json";
const GENERATIONS: &str = "/var/lib/kindling/generations";
const LOCK: &str = "/var/lib/kindling/lock";
/// Present while an apply is writing; left behind only by an apply that did not finish.
const UNFINISHED: &str = "/var/lib/kindling/unfinished";

/// Hold the root's lock for the duration of an apply or rollback: two at once would
/// interleave their writes, and the lock makes it safe to remove a killed apply's temps.
fn lock(root: &Root) -> Result<fs::File, ApplyError> {
    let path = root.resolve(LOCK)?;
    make_parents(path.parent().unwrap_or(root.path()))?;
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    file.try_lock()
        .map_err(|_| ApplyError::Busy(root.path().display().to_string()))?;
    Ok(file)
}

/// Remove temporary files a killed apply left in the directories this apply writes to.
fn sweep(root: &Root, paths: &[String]) -> Result<(), ApplyError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    for p in paths {
        if let Some(parent) = root.resolve(p)?.parent()
            && !dirs.iter().any(|d| d == parent)
        {
            dirs.push(parent.to_path_buf());
        }
    }
    for dir in dirs {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let is_temp = name.to_str().is_some_and(|n| n.starts_with(".kindling-"));
            let is_file = entry
                .file_type()
                .is_ok_and(|t| t.is_file() || t.is_symlink());
            if is_temp && is_file {
                remove(&entry.path())?;
            }
        }
    }
    Ok(())
}

/// What an apply did.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// What differed (and, unless a dry run, was changed).
    pub diff: Diff,
    /// Files written.
    pub written: usize,
    /// Actions run.
    pub ran: Vec<ActionChange>,
    /// Actions left pending because the root is not the running system (daemon-reload,
    /// unit commands, networkd, hostnamectl): they take effect when the root boots.
    pub pending: Vec<ActionChange>,
    /// The generation saved, if anything changed.
    pub generation: Option<String>,
}

/// What kindling recorded as done on this root: each action as its JSON text, in a sorted
/// set (a config may have thousands of units; lookups must stay O(log n)).
#[derive(Debug, Default, Serialize, Deserialize)]
struct State {
    /// Actions done, as their JSON.
    done: std::collections::BTreeSet<String>,
}

fn load_state(root: &Root) -> State {
    root.resolve(STATE_FILE)
        .ok()
        .and_then(|p| fs::read(p).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

fn key(kind: &ActionKind) -> String {
    serde_json::to_string(kind).unwrap_or_default()
}

/// What is at each planned path of `plan`, with owners as ids.
///
/// # Errors
/// When a path cannot be resolved or read.
pub fn observe_plan(root: &Root, plan: &Plan) -> Result<Vec<Now>, ApplyError> {
    let nodes: Vec<&str> = plan.files.iter().map(|f| f.path.as_str()).collect();
    Ok(root
        .observe_many(&nodes)?
        .into_iter()
        .map(|o| match o {
            Observed::Missing => Now::Missing,
            Observed::File {
                bytes,
                mode,
                uid,
                gid,
            } => Now::File {
                bytes,
                mode,
                owner: Owner::Ids(uid, gid),
            },
            Observed::Symlink { target } => Now::Symlink(target),
            Observed::Directory => Now::Directory,
            Observed::Other => Now::Other,
        })
        .collect())
}

/// The plan as applied to this root: the config's plan plus the file edits its users, keys
/// and `/etc/hosts` need here, and the directories those need.
///
/// # Errors
/// When the accounts cannot be derived.
pub fn prepare(root: &Root, plan: &Plan) -> Result<(Plan, Vec<accounts::Dir>), ApplyError> {
    let (files, dirs) = accounts::derive(root, plan)?;
    let mut full = plan.clone();
    for f in files {
        full.files.retain(|g| g.path != f.path);
        full.files.push(f);
    }
    full.actions.retain(|a| {
        !matches!(
            a.kind,
            ActionKind::CreateUser { .. }
                | ActionKind::AuthorizeKeys { .. }
                | ActionKind::WriteEtcHosts
        )
    });
    Ok((full, dirs))
}

/// The diff of `plan` against `root`, owners resolved in the root.
///
/// # Errors
/// When a path cannot be read or an owner is unknown to the root.
pub fn diff(root: &Root, plan: &Plan) -> Result<Diff, ApplyError> {
    let (plan, _) = prepare(root, plan)?;
    diff_prepared(root, &plan)
}

fn diff_prepared(root: &Root, plan: &Plan) -> Result<Diff, ApplyError> {
    let now = observe_plan(root, plan)?;
    for f in &plan.files {
        root.owner(f.owner.as_deref())?;
    }
    let owner = |o: Option<&str>| {
        let (u, g) = root.owner(o).unwrap_or((0, 0));
        Owner::Ids(u, g)
    };
    let state = load_state(root);
    let done = |k: &ActionKind| done_or_moot(root, &state, k);
    Ok(diff::compare(plan, &now, &owner, &done))
}

/// Whether `path` in `root` is a mask: a symlink to `/dev/null` or an empty file.
fn is_mask(root: &Root, path: &str) -> bool {
    match root.observe(path) {
        Ok(Observed::Symlink { target }) => target == "/dev/null",
        Ok(Observed::File { bytes, .. }) => bytes.is_empty(),
        _ => false,
    }
}

/// Whether an action needs nothing: recorded as done, or (for an unmask) no mask is there.
fn done_or_moot(root: &Root, state: &State, kind: &ActionKind) -> bool {
    if let ActionKind::Unmask { path, .. } = kind {
        return !is_mask(root, path);
    }
    state.done.contains(&key(kind))
}

/// One entry of a generation: a path and what was there before.
#[derive(Debug, Serialize, Deserialize)]
struct Saved {
    path: String,
    #[serde(flatten)]
    before: Before,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum Before {
    Missing,
    File {
        mode: u32,
        uid: u32,
        gid: u32,
        blob: String,
    },
    Symlink {
        target: String,
    },
}

/// Save the previous state of `paths` as a new generation; returns its name.
///
/// The blobs and the manifest are written to a staging directory without an fsync each;
/// one `sync` (`syncfs`) of the file system then puts all of them on the disk before the
/// staging directory is renamed into place, so a generation that exists is whole.
fn save_generation(root: &Root, paths: &[String], sync: &SyncFs<'_>) -> Result<String, ApplyError> {
    let base = root.resolve(&format!("{GENERATIONS}/x"))?;
    let base = base.parent().unwrap_or(root.path()).to_path_buf();
    fs::create_dir_all(&base).map_err(io(&base))?;
    let next = fs::read_dir(&base)
        .map_err(io(&base))?
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .map_or(1, |n| n + 1);
    let name = format!("{next:06}");
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(&base)
        .map_err(io(&base))?;
    let mut saved = Vec::new();
    for (i, path) in paths.iter().enumerate() {
        let before = match root.observe(path)? {
            Observed::File {
                bytes,
                mode,
                uid,
                gid,
            } => {
                let blob = format!("{i}.blob");
                fs::write(staging.path().join(&blob), &bytes).map_err(io(staging.path()))?;
                Before::File {
                    mode,
                    uid,
                    gid,
                    blob,
                }
            }
            Observed::Symlink { target } => Before::Symlink { target },
            _ => Before::Missing,
        };
        saved.push(Saved {
            path: path.clone(),
            before,
        });
    }
    let manifest = staging.path().join("generation.json");
    fs::write(
        &manifest,
        serde_json::to_vec_pretty(&saved).unwrap_or_default(),
    )
    .map_err(io(&manifest))?;
    fs::File::open(staging.path())
        .and_then(|d| sync(&d))
        .map_err(io(staging.path()))?;
    let target = base.join(&name);
    fs::rename(staging.path(), &target).map_err(io(&target))?;
    let _ = staging.keep();
    sync_dir(&base)?;
    Ok(name)
}

fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn run(command: &mut Command) -> Result<(), ApplyError> {
    let shown = format!("{command:?}");
    let out = command.output().map_err(|e| ApplyError::Command {
        command: shown.clone(),
        message: e.to_string(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(ApplyError::Command {
            command: shown,
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

/// Converge `root` to `plan` (or, with `dry_run`, only say what would change).
///
/// # Errors
/// When a path, owner or command fails; files written before the failure stay written (each
/// whole), and the generation saved first can roll them back.
pub fn apply(root: &Root, plan: &Plan, dry_run: bool) -> Result<Report, ApplyError> {
    apply_with(root, plan, dry_run, &syncfs)
}

/// [`apply`], made durable with `sync` (the tests' seam for a failing `syncfs`).
fn apply_with(
    root: &Root,
    plan: &Plan,
    dry_run: bool,
    sync: &SyncFs<'_>,
) -> Result<Report, ApplyError> {
    let (prepared, dirs) = prepare(root, plan)?;
    let plan = &prepared;
    let diff = diff_prepared(root, plan)?;
    if let Some(path) = diff.blocked.first() {
        return Err(ApplyError::Directory(path.clone()));
    }
    let mut report = Report {
        diff,
        ..Report::default()
    };
    if dry_run {
        return Ok(report);
    }
    let _lock = lock(root)?;
    let unfinished = root.resolve(UNFINISHED)?;
    if unfinished.exists() {
        // The previous apply was killed: remove its temporary files first.
        let all: Vec<String> = plan.files.iter().map(|f| f.path.clone()).collect();
        sweep(root, &all)?;
        if report.diff.is_empty() {
            remove(&unfinished)?;
        }
    }
    if report.diff.is_empty() {
        return Ok(report);
    }
    report.generation = Some(save_generation(root, &touched(&report.diff), sync)?);
    write_file(&unfinished, b"", 0o644, (0, 0))?;
    make_dirs(root, &dirs)?;
    report.written = write_changed(root, plan, &report.diff, sync)?;
    let mut state = load_state(root);
    run_actions(root, plan, &mut report, &mut state)?;
    let state_path = root.resolve(STATE_FILE)?;
    write_file(
        &state_path,
        &serde_json::to_vec_pretty(&state).unwrap_or_default(),
        0o644,
        (0, 0),
    )?;
    remove(&unfinished)?;
    Ok(report)
}

/// Everything an apply of `diff` may touch: changed files, masks to remove, the state file.
fn touched(diff: &Diff) -> Vec<String> {
    let mut touched: Vec<String> = diff.files.iter().map(|f| f.path.clone()).collect();
    for a in &diff.actions {
        if let ActionKind::Unmask { path, .. } = &a.kind {
            touched.push(path.clone());
        }
    }
    touched.push(STATE_FILE.to_string());
    touched
}

/// Create the directories users and keys need, owned by the user (kept by a rollback).
fn make_dirs(root: &Root, dirs: &[accounts::Dir]) -> Result<(), ApplyError> {
    for d in dirs {
        let host = root.resolve(&d.path)?;
        if !host.exists() {
            make_parents(host.parent().unwrap_or(Path::new("/")))?;
            fs::create_dir(&host).map_err(io(&host))?;
            fs::set_permissions(&host, fs::Permissions::from_mode(d.mode)).map_err(io(&host))?;
            std::os::unix::fs::chown(&host, Some(d.owner.0), Some(d.owner.1)).map_err(io(&host))?;
        }
    }
    Ok(())
}

/// Every changed file in one batch: all staged, one syncfs, then all renamed (`batch`).
/// Returns how many were written.
fn write_changed(
    root: &Root,
    plan: &Plan,
    diff: &Diff,
    sync: &SyncFs<'_>,
) -> Result<usize, ApplyError> {
    let mut batch = Batch::new(sync);
    for change in &diff.files {
        let Some(planned) = plan.files.iter().find(|f| f.path == change.path) else {
            continue;
        };
        let host = root.resolve(&planned.path)?;
        match &planned.content {
            Content::Bytes(bytes) => {
                let owner = root.owner(planned.owner.as_deref())?;
                batch.file(&host, bytes, planned.mode, owner)?;
            }
            Content::Symlink(target) => batch.symlink(&host, target)?,
        }
    }
    batch.commit()
}

/// Run the diff's actions in order, recording in `report` what ran or is pending and in
/// `state` what is done.
fn run_actions(
    root: &Root,
    plan: &Plan,
    report: &mut Report,
    state: &mut State,
) -> Result<(), ApplyError> {
    let live = root.is_host() && systemd_running();
    let actions = report.diff.actions.clone();
    let mut next = 0;
    while let Some(a) = actions.get(next) {
        // A run of consecutive enables that call systemctl is one systemctl call: a process
        // per unit costs ~10 ms each here (20 units: 234 ms one by one, 21 ms in one call).
        // Only consecutive ones, so an unmask planned before an enable still runs first.
        if let ActionKind::Enable { runtime, .. } = &a.kind
            && (root.is_host() || !*runtime)
        {
            next = enable_run(root, &actions, next, *runtime, report, state)?;
            continue;
        }
        next += 1;
        let done = run_action(root, plan, a, live, report)?;
        if done
            && !matches!(
                a.kind,
                ActionKind::Unmask { .. } | ActionKind::DaemonReload | ActionKind::RestartNetworkd
            )
        {
            state.done.insert(key(&a.kind));
        }
    }
    Ok(())
}

/// Enable the run of consecutive enables (all `runtime` or all not) that starts at `start`,
/// in one systemctl call; returns the index after the run.
fn enable_run(
    root: &Root,
    actions: &[ActionChange],
    start: usize,
    runtime: bool,
    report: &mut Report,
    state: &mut State,
) -> Result<usize, ApplyError> {
    let mut units = Vec::new();
    let mut end = start;
    while let Some(b) = actions.get(end)
        && let ActionKind::Enable { unit, runtime: r } = &b.kind
        && *r == runtime
    {
        units.push(unit.as_str());
        end += 1;
    }
    enable(root, &units, runtime)?;
    for b in &actions[start..end] {
        report.ran.push(b.clone());
        state.done.insert(key(&b.kind));
    }
    Ok(end)
}

/// Run one action that is not part of an enable run; returns whether it counts as done.
fn run_action(
    root: &Root,
    plan: &Plan,
    a: &ActionChange,
    live: bool,
    report: &mut Report,
) -> Result<bool, ApplyError> {
    Ok(match &a.kind {
        ActionKind::Unmask { path, .. } => {
            // Only a mask is removed (as coreos-cloudinit's UnmaskUnit): never a file
            // this plan writes at the same path, nor one that is no longer a mask.
            let host = root.resolve(path)?;
            if !plan.files.iter().any(|f| f.path == *path) && is_mask(root, path) {
                remove(&host)?;
            }
            report.ran.push(a.clone());
            true
        }
        ActionKind::Enable { .. } => {
            // Only a runtime enablement in a tree is left here (the others ran as a run):
            // it lives in /run, which a tree does not boot with, so it is pending.
            report.pending.push(a.clone());
            true
        }
        ActionKind::DaemonReload
        | ActionKind::RestartNetworkd
        | ActionKind::Systemctl { .. }
        | ActionKind::SetHostname { .. } => {
            match live_command(&a.kind).filter(|_| live) {
                Some(mut c) => {
                    run(&mut c)?;
                    report.ran.push(a.clone());
                }
                None => report.pending.push(a.clone()),
            }
            true
        }
        // Realised as file edits by `accounts::derive`; `prepare` removed them.
        ActionKind::CreateUser { .. }
        | ActionKind::AuthorizeKeys { .. }
        | ActionKind::WriteEtcHosts => false,
    })
}

/// `systemctl [--root=DIR] enable [--runtime] UNIT...` for a run of units in one process.
/// When that fails, each unit is enabled on its own (enabling is idempotent), so the error
/// names the unit that failed, as it did when every unit was its own call.
fn enable(root: &Root, units: &[&str], runtime: bool) -> Result<(), ApplyError> {
    let command = |units: &[&str]| {
        let mut c = Command::new("systemctl");
        if !root.is_host() {
            c.arg(format!("--root={}", root.path().display()));
        }
        c.arg("enable");
        if runtime {
            c.arg("--runtime");
        }
        c.args(units);
        c
    };
    match run(&mut command(units)) {
        Err(_) if units.len() > 1 => {
            for unit in units {
                run(&mut command(&[unit]))?;
            }
            // Each alone succeeded where all at once did not: every unit is enabled.
            Ok(())
        }
        result => result,
    }
}

/// The command of an action that acts on the running system.
fn live_command(kind: &ActionKind) -> Option<Command> {
    let (program, args): (&str, Vec<&str>) = match kind {
        ActionKind::DaemonReload => ("systemctl", vec!["daemon-reload"]),
        ActionKind::RestartNetworkd => ("systemctl", vec!["restart", "systemd-networkd.service"]),
        ActionKind::Systemctl { verb, unit } => ("systemctl", vec![verb.as_str(), unit.as_str()]),
        ActionKind::SetHostname { hostname } => {
            ("hostnamectl", vec!["set-hostname", hostname.as_str()])
        }
        _ => return None,
    };
    let mut c = Command::new(program);
    c.args(args);
    Some(c)
}

/// Restore the latest generation exactly, then remove it; returns the paths restored.
///
/// # Errors
/// When there is no generation or a restore fails.
pub fn rollback(root: &Root) -> Result<Vec<String>, ApplyError> {
    let _lock = lock(root)?;
    let base = root.resolve(&format!("{GENERATIONS}/x"))?;
    let base = base.parent().unwrap_or(root.path()).to_path_buf();
    let latest = fs::read_dir(&base)
        .ok()
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.parse::<u64>().is_ok())
        })
        .map(|e| e.path())
        .max()
        .ok_or_else(|| ApplyError::NoGeneration(base.display().to_string()))?;
    let manifest = latest.join("generation.json");
    let saved: Vec<Saved> = serde_json::from_slice(&fs::read(&manifest).map_err(io(&manifest))?)
        .map_err(|e| ApplyError::Io {
            path: manifest.display().to_string(),
            source: std::io::Error::other(e),
        })?;
    // The saved files in one batch (one syncfs, then the renames, as an apply writes them),
    // then the paths that did not exist removed.
    let mut restored = Vec::new();
    let mut batch = Batch::new(&syncfs);
    let mut absent = Vec::new();
    for entry in &saved {
        let host = root.resolve(&entry.path)?;
        match &entry.before {
            Before::Missing => absent.push(host),
            Before::File {
                mode,
                uid,
                gid,
                blob,
            } => {
                let bytes = fs::read(latest.join(blob)).map_err(io(&latest))?;
                batch.file(&host, &bytes, *mode, (*uid, *gid))?;
            }
            Before::Symlink { target } => batch.symlink(&host, target)?,
        }
        restored.push(entry.path.clone());
    }
    batch.commit()?;
    for host in absent {
        remove(&host)?;
    }
    fs::remove_dir_all(&latest).map_err(io(&latest))?;
    Ok(restored)
}

/// Where a root's generations are, on this machine.
///
/// # Errors
/// When the state directory cannot be resolved.
pub fn generations_dir(root: &Root) -> Result<PathBuf, ApplyError> {
    let p = root.resolve(&format!("{GENERATIONS}/x"))?;
    Ok(p.parent().unwrap_or(root.path()).to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;
    use crate::plan::{Effect, PlannedFile};
    use std::cell::Cell;

    fn file(path: &str, content: &str) -> PlannedFile {
        PlannedFile {
            path: path.to_string(),
            content: Content::Bytes(content.as_bytes().to_vec()),
            mode: 0o644,
            owner: None,
            effect: Effect::InService,
            span: Span::default(),
            origin: "test".to_string(),
        }
    }

    fn plan() -> Plan {
        Plan {
            files: vec![
                file("/etc/a.conf", "new a\n"),
                file("/etc/b/b.conf", "new b\n"),
                PlannedFile {
                    content: Content::Symlink("/dev/null".to_string()),
                    mode: 0o777,
                    ..file("/etc/systemd/system/x.service", "")
                },
            ],
            actions: Vec::new(),
        }
    }

    fn temps(dir: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).unwrap() {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    stack.push(e.path());
                } else if e.file_name().to_string_lossy().starts_with(".kindling-") {
                    found.push(e.path());
                }
            }
        }
        found
    }

    /// A root holding only `/etc/a.conf` = "old a".
    fn old_root() -> (tempfile::TempDir, Root) {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir_all(dir.path().join("etc")).unwrap();
        fs::write(dir.path().join("etc/a.conf"), "old a\n").unwrap();
        let root = Root::new(dir.path()).unwrap();
        (dir, root)
    }

    /// The first sync is the generation's, the second the changed files': when the second
    /// fails, the apply fails and no target changed, and the generation saved first is there
    /// to roll back to. A batch that renamed before syncing would fail this.
    #[test]
    fn a_failed_syncfs_fails_the_apply_before_any_rename() {
        let (dir, root) = old_root();
        let calls = Cell::new(0);
        let sync = |f: &fs::File| {
            calls.set(calls.get() + 1);
            // Whenever a sync runs, no target has changed yet.
            assert_eq!(fs::read(dir.path().join("etc/a.conf")).unwrap(), b"old a\n");
            assert!(!dir.path().join("etc/b/b.conf").exists());
            if calls.get() == 2 {
                Err(std::io::Error::other("injected syncfs failure"))
            } else {
                syncfs(f)
            }
        };
        let err = apply_with(&root, &plan(), false, &sync).unwrap_err();
        assert!(err.to_string().contains("injected syncfs failure"), "{err}");
        assert_eq!(calls.get(), 2);
        assert_eq!(fs::read(dir.path().join("etc/a.conf")).unwrap(), b"old a\n");
        assert!(!dir.path().join("etc/b/b.conf").exists());
        assert!(fs::symlink_metadata(dir.path().join("etc/systemd/system/x.service")).is_err());
        assert!(temps(dir.path()).is_empty(), "{:?}", temps(dir.path()));
        assert!(
            generations_dir(&root)
                .unwrap()
                .join("000001/generation.json")
                .is_file(),
            "the generation was saved before the files"
        );
        assert!(
            dir.path().join("var/lib/kindling/unfinished").exists(),
            "the failed apply is marked unfinished"
        );

        // The next apply (a working syncfs) converges, a third writes nothing, and the
        // rollback restores the state before the first.
        let report = apply(&root, &plan(), false).unwrap();
        assert_eq!(report.written, 3);
        assert_eq!(fs::read(dir.path().join("etc/a.conf")).unwrap(), b"new a\n");
        assert_eq!(
            fs::read(dir.path().join("etc/b/b.conf")).unwrap(),
            b"new b\n"
        );
        assert!(!dir.path().join("var/lib/kindling/unfinished").exists());
        let again = apply(&root, &plan(), false).unwrap();
        assert_eq!(again.written, 0);
        assert!(again.generation.is_none());
        rollback(&root).unwrap();
        assert_eq!(fs::read(dir.path().join("etc/a.conf")).unwrap(), b"old a\n");
        assert!(!dir.path().join("etc/b/b.conf").exists());
        assert!(fs::symlink_metadata(dir.path().join("etc/systemd/system/x.service")).is_err());
    }

    /// A failed syncfs while saving the generation fails the apply before anything else.
    #[test]
    fn a_failed_syncfs_of_the_generation_changes_nothing() {
        let (dir, root) = old_root();
        let sync = |_: &fs::File| Err(std::io::Error::other("injected syncfs failure"));
        let err = apply_with(&root, &plan(), false, &sync).unwrap_err();
        assert!(err.to_string().contains("injected syncfs failure"), "{err}");
        assert_eq!(fs::read(dir.path().join("etc/a.conf")).unwrap(), b"old a\n");
        assert!(!dir.path().join("etc/b").exists());
        let generations = generations_dir(&root).unwrap();
        let named: Vec<_> = fs::read_dir(&generations)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert!(
            named.is_empty(),
            "no generation is renamed into place unsynced, the staging is removed: {named:?}"
        );
        assert!(!dir.path().join("var/lib/kindling/unfinished").exists());
    }
}
