//! `kindling diff` and `kindling apply` on real directories: convergence (a second apply
//! writes nothing, not even mtimes), the diff afterwards, rollback, enablement through the
//! real `systemctl --root`, hostile roots (symlinks out of the root, files where
//! directories are needed, immutable paths, a directory where a file is planned), and
//! SIGKILL at random moments during apply.

use std::os::unix::fs::{MetadataExt, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::support::common::root as repo;

fn kindling(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(args)
        .output()
        .unwrap()
}

/// A scratch root under target/ (file creation in /tmp can be very slow on some machines).
fn scratch() -> tempfile::TempDir {
    tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap()
}

fn example(name: &str) -> String {
    repo().join("examples").join(name).display().to_string()
}

/// Every regular file and link below `dir` with its mtime and content.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>, Vec<u8>)> {
    let mut out: Vec<_> = crate::support::common::tree(dir)
        .into_iter()
        .filter(|(_, meta)| !meta.is_dir())
        .map(|(p, meta)| {
            if meta.file_type().is_symlink() {
                let target = std::fs::read_link(&p).unwrap();
                (p, None, target.into_os_string().into_encoded_bytes())
            } else {
                let bytes = std::fs::read(&p).unwrap();
                (p, meta.modified().ok(), bytes)
            }
        })
        .collect();
    out.sort();
    out
}

#[test]
fn apply_converges_and_diff_agrees() {
    let dir = scratch();
    let root = dir.path().to_str().unwrap();
    let config = example("update-window.yaml");
    let first = kindling(&["apply", &config, "--root", root, "--color", "never"]);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(stdout.contains("wrote 7 file(s)"), "{stdout}");
    let conf = std::fs::read_to_string(dir.path().join("etc/coreos/update.conf")).unwrap();
    assert!(conf.contains("GROUP=stable\n") && conf.contains("REBOOT_STRATEGY=off\n"));
    assert_eq!(
        std::fs::read_link(dir.path().join("run/systemd/system/locksmithd.service")).unwrap(),
        Path::new("/dev/null")
    );
    let script = std::fs::metadata(dir.path().join("opt/bin/update-window.sh")).unwrap();
    assert_eq!(script.mode() & 0o7777, 0o755);

    let before = snapshot(dir.path());
    std::thread::sleep(Duration::from_millis(20));
    let second = kindling(&["apply", &config, "--root", root, "--color", "never"]);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stdout).contains("no changes"));
    assert_eq!(
        snapshot(dir.path()),
        before,
        "a second apply changes no file and no mtime"
    );

    let diff = kindling(&["diff", &config, "--root", root, "--exit-code"]);
    assert_eq!(
        diff.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&diff.stdout)
    );
    assert!(String::from_utf8_lossy(&diff.stdout).contains("no changes"));

    // group: stable -> beta shows the update.conf change and the restart.
    let beta = dir.path().join("beta.yaml");
    std::fs::write(
        &beta,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("group: stable", "group: beta"),
    )
    .unwrap();
    let diff = kindling(&[
        "diff",
        beta.to_str().unwrap(),
        "--root",
        root,
        "--exit-code",
        "--color",
        "never",
    ]);
    assert_eq!(diff.status.code(), Some(1));
    let text = String::from_utf8_lossy(&diff.stdout);
    assert!(
        text.contains("-GROUP=stable") && text.contains("+GROUP=beta"),
        "{text}"
    );
    assert!(
        text.contains("run systemctl restart update-engine.service [in-service]"),
        "{text}"
    );

    // The same change, config against config, as JSON.
    let diff = kindling(&["diff", &config, beta.to_str().unwrap(), "--format", "json"]);
    let json: serde_json::Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(json["files"][0]["path"], "/etc/coreos/update.conf");
    assert_eq!(json["changed"], true);
}

#[test]
fn rollback_restores_the_previous_generation_exactly() {
    let dir = scratch();
    let root = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("etc/coreos")).unwrap();
    std::fs::write(
        dir.path().join("etc/coreos/update.conf"),
        "# from the image\nGROUP=alpha\nSERVER=https://u.example/\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("etc/motd"), "old motd\n").unwrap();
    let before = snapshot(dir.path());
    let config = dir.path().join("c.yaml");
    std::fs::write(&config, "#cloud-config\ncoreos:\n  update:\n    group: beta\nwrite_files:\n  - path: /etc/motd\n    content: new motd\n  - path: /opt/bin/tool\n    permissions: '0750'\n    content: x\n").unwrap();
    let out = kindling(&["apply", config.to_str().unwrap(), "--root", root]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/coreos/update.conf")).unwrap(),
        "# from the image\nGROUP=beta\nSERVER=https://u.example/\n",
        "update.conf is merged with the root's own"
    );
    let out = kindling(&["apply", "--rollback", "--root", root]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after: Vec<_> = snapshot(dir.path())
        .into_iter()
        .filter(|(p, _, _)| !p.starts_with(dir.path().join("var/lib/kindling")) && p != &config)
        .map(|(p, _, c)| (p, c))
        .collect();
    let before: Vec<_> = before.into_iter().map(|(p, _, c)| (p, c)).collect();
    assert_eq!(
        after, before,
        "rollback restores every file and removes created ones"
    );
    let again = kindling(&["apply", "--rollback", "--root", root]);
    assert_eq!(again.status.code(), Some(2), "nothing left to roll back");
}

#[test]
fn enable_uses_systemctl_root() {
    let dir = scratch();
    let root = dir.path().to_str().unwrap();
    let out = kindling(&["apply", &example("units-and-timers.yaml"), "--root", root]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let link = dir
        .path()
        .join("etc/systemd/system/timers.target.wants/prune.timer");
    assert!(
        std::fs::symlink_metadata(&link).is_ok(),
        "systemctl --root enable linked prune.timer"
    );
    let mask = std::fs::read_link(
        dir.path()
            .join("etc/systemd/system/update-engine-stub.service"),
    )
    .unwrap();
    assert_eq!(mask, Path::new("/dev/null"));
    let again = kindling(&[
        "apply",
        &example("units-and-timers.yaml"),
        "--root",
        root,
        "--color",
        "never",
    ]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("no changes"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn hostile_roots_change_nothing_outside() {
    let outside = scratch();
    std::fs::write(outside.path().join("keep"), "outside").unwrap();
    let config_dir = scratch();
    let config = config_dir.path().join("c.yaml");
    std::fs::write(&config, "#cloud-config\nwrite_files:\n  - path: /opt/bin/tool\n    permissions: '0755'\n    content: tool\n  - path: /etc/motd\n    content: hi\n").unwrap();
    let outside_before = snapshot(outside.path());

    // `opt` is a symlink to a directory outside the root: resolved inside, as a chroot would.
    let dir = scratch();
    symlink(outside.path(), dir.path().join("opt")).unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        snapshot(outside.path()),
        outside_before,
        "nothing written outside the root"
    );
    let inside = dir
        .path()
        .join(outside.path().strip_prefix("/").unwrap())
        .join("bin/tool");
    assert_eq!(
        std::fs::read_to_string(inside).unwrap(),
        "tool",
        "the link's target is read inside the root"
    );

    // A relative link climbing out with `..`.
    let dir = scratch();
    symlink("../../../../../../../../..", dir.path().join("opt")).unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.path().join("bin/tool").is_file(),
        "`..` stops at the root"
    );
    assert_eq!(snapshot(outside.path()), outside_before);

    // Paths with `..` are cleaned as on the node: they stay inside the root.
    let dir = scratch();
    let dots = config_dir.path().join("dots.yaml");
    std::fs::write(&dots, "#cloud-config\nwrite_files:\n  - path: /../../../etc/escape\n    content: x\n  - path: tmp/../../etc/relative\n    content: y\n").unwrap();
    let out = kindling(&[
        "apply",
        dots.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(dir.path().join("etc/escape").is_file() && dir.path().join("etc/relative").is_file());
    assert_eq!(snapshot(outside.path()), outside_before);

    // A file where a directory is needed: a clear error, nothing written.
    let dir = scratch();
    std::fs::write(dir.path().join("opt"), "a file").unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("/opt") && err.contains("not a directory"),
        "{err}"
    );
    assert!(
        !dir.path().join("etc/motd").exists(),
        "nothing is written when a path is refused"
    );

    // A directory where a file is planned: refused before anything is written.
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("etc/motd")).unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("a directory is there"));
    assert!(!dir.path().join("opt/bin/tool").exists());

    // An unwritable (immutable) directory: a clear error, other paths untouched.
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    let locked = Command::new("chattr")
        .arg("+i")
        .arg(dir.path().join("etc"))
        .status();
    if locked.is_ok_and(|s| s.success()) {
        let out = kindling(&[
            "apply",
            config.to_str().unwrap(),
            "--root",
            dir.path().to_str().unwrap(),
        ]);
        let _ = Command::new("chattr")
            .arg("-i")
            .arg(dir.path().join("etc"))
            .status();
        assert_eq!(out.status.code(), Some(2));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("/etc"), "{err}");
        assert!(!dir.path().join("etc/motd").exists());
    }
    assert_eq!(snapshot(outside.path()), outside_before);
}

/// Kill `kindling apply` at random moments; every planned file must then be its old or its
/// new content, never anything else, and the next apply must converge. The files are written
/// as one batch (all staged as `.kindling-` temporaries, one syncfs, then all renamed), so a
/// kill inside the write phase shows as temporaries left beside the targets (before or during
/// the renames) or as some files new and some old (during the renames).
#[test]
fn sigkill_during_apply_leaves_old_or_new_files() {
    let work = scratch();
    let old_cfg = work.path().join("old.yaml");
    let new_cfg = work.path().join("new.yaml");
    let mut old = String::from("#cloud-config\nwrite_files:\n");
    let mut new = String::from("#cloud-config\nwrite_files:\n");
    for i in 0..12 {
        old.push_str(&format!(
            "  - path: /etc/kindling/f{i}\n    content: old {i}\n"
        ));
        // Quoted, so the content is exactly these bytes (a plain scalar loses its trailing blank).
        new.push_str(&format!(
            "  - path: /etc/kindling/f{i}\n    permissions: '0600'\n    content: \"{}\"\n",
            format!("new {i} ").repeat(200)
        ));
    }
    std::fs::write(&old_cfg, &old).unwrap();
    std::fs::write(&new_cfg, &new).unwrap();
    let template = work.path().join("template");
    std::fs::create_dir(&template).unwrap();
    assert!(
        kindling(&[
            "apply",
            old_cfg.to_str().unwrap(),
            "--root",
            template.to_str().unwrap()
        ])
        .status
        .success()
    );

    // How long a whole apply takes here, so the kills can land anywhere in it.
    let mut full = Duration::ZERO;
    for _ in 0..3 {
        let root = work.path().join("timing");
        copy_tree(&template, &root);
        let start = std::time::Instant::now();
        assert!(
            kindling(&[
                "apply",
                new_cfg.to_str().unwrap(),
                "--root",
                root.to_str().unwrap()
            ])
            .status
            .success()
        );
        full = full.max(start.elapsed());
        std::fs::remove_dir_all(&root).unwrap();
    }
    let span_us = (full.as_micros() as u64 * 12 / 10).max(1);

    let mut seed: u64 = 0xC0FF_EE00_1234_5678;
    let (mut interrupted, mut mixed, mut staged) = (0, 0, 0);
    for trial in 0..200 {
        let root = work.path().join(format!("r{trial}"));
        copy_tree(&template, &root);
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_micros(seed % span_us);
        let mut child = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args([
                "apply",
                new_cfg.to_str().unwrap(),
                "--root",
                root.to_str().unwrap(),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            interrupted += 1;
        }
        let mut news = 0;
        for i in 0..12 {
            let path = root.join(format!("etc/kindling/f{i}"));
            let content = std::fs::read_to_string(&path).unwrap();
            let new_content = format!("new {i} ").repeat(200);
            assert!(
                content == format!("old {i}") || content == new_content,
                "trial {trial}: {} is neither old nor new ({} bytes)",
                path.display(),
                content.len()
            );
            news += usize::from(content == new_content);
        }
        if !status.success() && news > 0 && news < 12 {
            mixed += 1;
        }
        let temps = std::fs::read_dir(root.join("etc/kindling"))
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with(".kindling-")
            })
            .count();
        if !status.success() && (temps > 0 || (news > 0 && news < 12)) {
            staged += 1;
        }
        let done = kindling(&[
            "apply",
            new_cfg.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
        ]);
        assert!(
            done.status.success(),
            "trial {trial}: the next apply fails: {}",
            String::from_utf8_lossy(&done.stderr)
        );
        let left: Vec<_> = std::fs::read_dir(root.join("etc/kindling"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".kindling-"))
            .collect();
        assert!(
            left.is_empty(),
            "trial {trial}: the next apply left the killed one's temporaries: {left:?}"
        );
        let again = kindling(&[
            "diff",
            new_cfg.to_str().unwrap(),
            "--root",
            root.to_str().unwrap(),
            "--exit-code",
        ]);
        assert_eq!(again.status.code(), Some(0), "trial {trial}: not converged");
        std::fs::remove_dir_all(&root).unwrap();
    }
    println!(
        "sigkill: {interrupted} of 200 applies interrupted, {staged} of them inside the write phase (temporaries staged or renames under way), {mixed} with some files new and some old (a full apply takes {full:?})"
    );
    assert!(
        interrupted >= 20,
        "only {interrupted} of 200 applies were actually interrupted"
    );
    assert!(
        staged >= 5,
        "only {staged} kills landed inside the write phase; the test would not see a torn apply"
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.is_dir() {
            copy_tree(&e.path(), &target);
        } else if meta.file_type().is_symlink() {
            symlink(std::fs::read_link(e.path()).unwrap(), &target).unwrap();
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

#[test]
fn owners_resolve_in_the_root_and_unknown_ones_are_refused() {
    let dir = scratch();
    let root = dir.path().to_str().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(&config, "#cloud-config\nwrite_files:\n  - path: /home/core/.profile\n    owner: core:docker\n    content: x\n").unwrap();
    let out = kindling(&["apply", config.to_str().unwrap(), "--root", root]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("unknown user \"core\"") && err.contains("etc/passwd"),
        "{err}"
    );
    assert!(!dir.path().join("home").exists(), "nothing written");

    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0::/root:/bin/bash\ncore:x:500:500::/home/core:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        "root:x:0:\ncore:x:500:\ndocker:x:233:core\n",
    )
    .unwrap();
    let out = kindling(&["apply", config.to_str().unwrap(), "--root", root]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::metadata(dir.path().join("home/core/.profile")).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (500, 233));
    let parent = std::fs::metadata(dir.path().join("home/core")).unwrap();
    assert_eq!(parent.mode() & 0o7777, 0o755, "parents are created 0755");
}

fn root_with_accounts() -> tempfile::TempDir {
    let dir = scratch();
    std::fs::create_dir_all(dir.path().join("etc/default")).unwrap();
    std::fs::write(
        dir.path().join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/bash\ncore:x:500:500:Core:/home/core:/bin/bash\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/group"),
        "root:x:0:\ncore:x:500:\ndocker:x:233:core\nsudo:x:27:\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("etc/shadow"),
        "root:*:::::::\ncore:*:::::::\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("etc/default/useradd"), "SHELL=/bin/bash\n").unwrap();
    dir
}

#[test]
fn users_and_keys_are_file_edits_that_converge_and_roll_back() {
    let dir = root_with_accounts();
    let root = dir.path().to_str().unwrap();
    let before = snapshot(dir.path());
    let out = kindling(&[
        "apply",
        &example("network.yaml"),
        "--root",
        root,
        "--color",
        "never",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let passwd = std::fs::read_to_string(dir.path().join("etc/passwd")).unwrap();
    assert!(
        passwd.ends_with("alice:x:1000:1000::/home/alice:/bin/bash\n"),
        "{passwd}"
    );
    let group = std::fs::read_to_string(dir.path().join("etc/group")).unwrap();
    assert!(
        group.contains("docker:x:233:core,alice\n")
            && group.contains("sudo:x:27:alice\n")
            && group.contains("alice:x:1000:\n"),
        "{group}"
    );
    let shadow = std::fs::read_to_string(dir.path().join("etc/shadow")).unwrap();
    assert!(
        shadow.contains("alice:*:::::::\n"),
        "no date: the same config gives the same bytes"
    );
    let home = std::fs::metadata(dir.path().join("home/alice")).unwrap();
    assert_eq!((home.uid(), home.gid()), (1000, 1000));
    let ssh = std::fs::metadata(dir.path().join("home/alice/.ssh")).unwrap();
    assert_eq!(ssh.mode() & 0o7777, 0o700);
    let keys = dir.path().join("home/core/.ssh/authorized_keys");
    assert!(
        std::fs::read_to_string(&keys)
            .unwrap()
            .contains("core@example")
    );
    let meta = std::fs::metadata(&keys).unwrap();
    assert_eq!(
        (meta.mode() & 0o7777, meta.uid(), meta.gid()),
        (0o600, 500, 500)
    );
    assert_eq!(
        std::fs::read_to_string(dir.path().join("etc/hosts")).unwrap(),
        "127.0.0.1 node1\n"
    );

    let again = kindling(&[
        "apply",
        &example("network.yaml"),
        "--root",
        root,
        "--color",
        "never",
    ]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("no changes"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );

    let out = kindling(&["apply", "--rollback", "--root", root]);
    assert!(out.status.success());
    let files = |s: Vec<(PathBuf, Option<SystemTime>, Vec<u8>)>| -> Vec<(PathBuf, Vec<u8>)> {
        s.into_iter()
            .filter(|(p, _, _)| !p.starts_with(dir.path().join("var/lib/kindling")))
            .map(|(p, _, c)| (p, c))
            .collect()
    };
    assert_eq!(
        files(snapshot(dir.path())),
        files(before),
        "passwd, group, shadow and keys restored"
    );
}

#[test]
fn accounts_are_refused_clearly() {
    let dir = root_with_accounts();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "#cloud-config\nusers:\n  - name: bob\n    groups: [wheel]\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("group \"wheel\" does not exist"));

    let empty = scratch();
    std::fs::write(
        &config,
        "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAA core@x\n",
    )
    .unwrap();
    let out = kindling(&[
        "apply",
        config.to_str().unwrap(),
        "--root",
        empty.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("core is not a user"));
    assert!(
        std::fs::read_dir(empty.path()).unwrap().next().is_none(),
        "nothing written"
    );
}

#[test]
fn a_second_apply_at_the_same_time_is_refused_and_stale_temps_are_swept() {
    let dir = scratch();
    let root = dir.path().to_str().unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/.kindling-stale"), "half").unwrap();
    let lock_dir = dir.path().join("var/lib/kindling");
    std::fs::create_dir_all(&lock_dir).unwrap();
    // What a killed apply leaves: its marker.
    std::fs::write(lock_dir.join("unfinished"), "").unwrap();
    let held = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_dir.join("lock"))
        .unwrap();
    held.lock().unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "#cloud-config\nwrite_files:\n  - path: /etc/motd\n    content: hi\n",
    )
    .unwrap();
    let out = kindling(&["apply", config.to_str().unwrap(), "--root", root]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("another kindling apply or rollback is running")
    );
    assert!(!dir.path().join("etc/motd").exists());
    drop(held);
    let out = kindling(&["apply", config.to_str().unwrap(), "--root", root]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !dir.path().join("etc/.kindling-stale").exists(),
        "a killed apply's temp file is swept"
    );
}

/// A directory holding `systemctl`: a logging wrapper that runs the real one, so a test sees
/// how many times kindling called it and with what.
fn logging_systemctl(dir: &Path) -> (PathBuf, PathBuf) {
    let real = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|d| d.join("systemctl"))
        .find(|p| p.is_file())
        .expect("this test needs the real systemctl (apt-get install systemd)");
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let log = dir.join("systemctl.log");
    let wrapper = bin.join("systemctl");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
            log.display(),
            real.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let path = std::env::join_paths(
        std::iter::once(bin).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap())),
    )
    .unwrap();
    (PathBuf::from(path), log)
}

fn unit(name: &str) -> String {
    format!(
        "    - name: {name}\n      enable: true\n      content: |\n        [Service]\n        ExecStart=/bin/true\n        [Install]\n        WantedBy=multi-user.target\n"
    )
}

/// Consecutive enables are one `systemctl --root=DIR enable u1 u2 ...` call, each unit still
/// reported and recorded; when that call fails, each unit is tried on its own so the error
/// names the unit that failed, and the units before it stay enabled.
#[test]
fn consecutive_enables_are_one_systemctl_call_reported_per_unit() {
    let dir = scratch();
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let (path, log) = logging_systemctl(dir.path());
    let apply = |config: &str| {
        let file = dir.path().join("c.yaml");
        std::fs::write(&file, config).unwrap();
        Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["apply", file.to_str().unwrap(), "--root"])
            .arg(&root)
            .args(["--format", "json"])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let units = ["a.service", "b.service", "c.service"];
    let config = format!(
        "#cloud-config\ncoreos:\n  units:\n{}",
        units.iter().map(|u| unit(u)).collect::<String>()
    );
    let out = apply(&config);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls,
        format!(
            "--root={} enable a.service b.service c.service\n",
            root.display()
        ),
        "one call for the three units"
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ran: Vec<&str> = report["ran"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["action"] == "enable")
        .map(|a| a["unit"].as_str().unwrap())
        .collect();
    assert_eq!(ran, units, "each unit reported: {report}");
    for u in units {
        assert!(
            std::fs::symlink_metadata(
                root.join("etc/systemd/system/multi-user.target.wants")
                    .join(u)
            )
            .is_ok(),
            "{u} enabled"
        );
    }
    // Recorded per unit: the same config again calls nothing.
    let again = apply(&config);
    assert!(again.status.success());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        calls,
        "nothing to enable again"
    );

    // A unit that does not exist between two that do: the one call fails, then each alone.
    std::fs::remove_file(&log).unwrap();
    let config = format!(
        "#cloud-config\ncoreos:\n  units:\n{}    - name: missing.service\n      enable: true\n{}",
        unit("d.service"),
        unit("e.service")
    );
    let out = apply(&config);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("\"enable\" \"missing.service\"") && stderr.contains("does not exist"),
        "the error names the unit: {stderr}"
    );
    let r = format!("--root={}", root.display());
    assert_eq!(
        std::fs::read_to_string(&log).unwrap(),
        format!(
            "{r} enable d.service missing.service e.service\n{r} enable d.service\n{r} enable missing.service\n"
        )
    );
    let wants = root.join("etc/systemd/system/multi-user.target.wants");
    assert!(std::fs::symlink_metadata(wants.join("d.service")).is_ok());
    assert!(std::fs::symlink_metadata(wants.join("e.service")).is_err());
}

/// A runtime unit with content whose path holds a runtime mask: the written unit replaces
/// the mask and stays (coreos-cloudinit's UnmaskUnit removes only a mask); a path that still
/// holds a mask, for a runtime unit without content, is unmasked.
#[test]
fn a_runtime_unit_written_over_its_mask_is_kept() {
    let dir = scratch();
    let root = dir.path().join("root");
    let run = root.join("run/systemd/system");
    std::fs::create_dir_all(&run).unwrap();
    symlink("/dev/null", run.join("foo.service")).unwrap();
    symlink("/dev/null", run.join("bar.service")).unwrap();
    let config = dir.path().join("c.yaml");
    std::fs::write(
        &config,
        "#cloud-config\ncoreos:\n  units:\n    - name: foo.service\n      runtime: true\n      content: |\n        [Service]\n        Type=oneshot\n        ExecStart=/bin/true\n    - name: bar.service\n      runtime: true\n",
    )
    .unwrap();
    let args = [
        "apply",
        config.to_str().unwrap(),
        "--root",
        root.to_str().unwrap(),
    ];
    let out = kindling(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(run.join("foo.service")).unwrap(),
        "[Service]\nType=oneshot\nExecStart=/bin/true\n",
        "{stdout}"
    );
    assert!(!stdout.contains("unmask foo.service"), "{stdout}");
    assert!(stdout.contains("unmask bar.service"), "{stdout}");
    assert!(
        std::fs::symlink_metadata(run.join("bar.service")).is_err(),
        "bar.service's mask was not removed: {stdout}"
    );
    // Converged: a second run changes nothing and keeps the unit.
    let again = kindling(&args);
    assert!(again.status.success());
    assert!(run.join("foo.service").is_file());
}
