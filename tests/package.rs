//! What ships: the static binary runs in an empty root (`chroot`, nothing but the binary and
//! the files a command reads), the Debian package installs into a fresh root with the real
//! `dpkg` and works from there under its own and its compatibility names, the shell
//! completions come out of the CLI, and the book's install snippets are what kindling
//! validates and compiles.
//!
//! The static binary and the package are built once by `scripts/package` (which
//! `scripts/test` runs before `cargo test`): a release build takes minutes, and a test must
//! not. A test finding them missing or built from another CLI fails and says so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::common::{Run, root};

/// The triple `scripts/package` builds the static binary for.
const TRIPLE: &str = "x86_64-unknown-linux-gnu";

/// Where cargo builds, as `scripts/package` sees it: `CARGO_TARGET_DIR` (relative to the
/// repository when relative), else `target/`.
fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| root().join("target"), |d| root().join(d))
}

fn static_binary() -> PathBuf {
    let path = std::env::var_os("KINDLING_STATIC_BIN").map_or_else(
        || target_dir().join(format!("{TRIPLE}/release/kindling")),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} is missing: run scripts/package first (scripts/test does)",
        path.display()
    );
    // Built from this CLI: the completion script covers every command and flag.
    let want = Run::new(&["completions", "bash"]).run().stdout;
    let have = run(Command::new(&path).args(["completions", "bash"]));
    assert!(
        have.status.success() && String::from_utf8_lossy(&have.stdout) == want,
        "{} was built from another version of the CLI: run scripts/package again",
        path.display()
    );
    path
}

fn deb() -> PathBuf {
    let dir = target_dir().join("debian");
    let mut debs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run scripts/package first (scripts/test does)",
                dir.display()
            )
        })
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with(&format!("kindling_{}", env!("CARGO_PKG_VERSION")))
                    && n.ends_with(".deb")
            })
        })
        .collect();
    assert_eq!(
        debs.len(),
        1,
        "want exactly one kindling_{}*.deb in {}: run scripts/package",
        env!("CARGO_PKG_VERSION"),
        dir.display()
    );
    debs.pop().unwrap()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Run `args` chrooted into `dir` (we are root here, as in CI: chroot needs it).
fn chroot(dir: &Path, args: &[&str]) -> Output {
    // A binary copied in a moment ago can still be open for writing in a child another test
    // thread forked meanwhile (until that child execs): exec then fails with ETXTBSY. That
    // is this harness's race, not the binary's, so it is tried again (bounded).
    for _ in 0..50 {
        // By its absolute path: the environment is cleared, PATH included.
        let out = run(Command::new("/usr/sbin/chroot")
            .arg(dir)
            .args(args)
            .env_clear()
            .env("PATH", "/usr/bin:/bin"));
        if !text(&out.stderr).contains("Text file busy") {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!(
        "{args:?} stayed busy (ETXTBSY) for a second in {}",
        dir.display()
    );
}

/// Every file below `dir`, relative, sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && !path.is_symlink() {
                stack.push(path);
            } else {
                out.push(path.strip_prefix(dir).unwrap().display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// An empty root holding only the static binary as `/kindling`.
fn bare_root() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(static_binary(), dir.path().join("kindling")).unwrap();
    dir
}

#[test]
fn static_binary_has_no_interpreter_and_no_shared_libraries() {
    let bin = static_binary();
    let program_headers = text(&run(Command::new("readelf").args(["-lW"]).arg(&bin)).stdout);
    assert!(
        program_headers.contains("LOAD"),
        "readelf read no program headers:\n{program_headers}"
    );
    assert!(
        !program_headers.contains("INTERP"),
        "the binary asks for a dynamic loader:\n{program_headers}"
    );
    let dynamic = text(&run(Command::new("readelf").args(["-dW"]).arg(&bin)).stdout);
    assert!(
        !dynamic.contains("(NEEDED)"),
        "the binary needs shared libraries:\n{dynamic}"
    );
    let ldd = run(Command::new("ldd").arg(&bin));
    let said = text(&ldd.stdout) + &text(&ldd.stderr);
    assert!(
        said.contains("not a dynamic executable") || said.contains("statically linked"),
        "ldd: {said}"
    );
}

#[test]
fn static_binary_validates_and_compiles_in_an_empty_root() {
    let dir = bare_root();
    let example = root().join("examples/mistakes.yaml");
    std::fs::copy(&example, dir.path().join("config.yaml")).unwrap();
    let out = chroot(
        dir.path(),
        &["/kindling", "validate", "--format", "json", "/config.yaml"],
    );
    // The same findings as the development build reports for the same file.
    let want = Run::new(&["validate", "--format", "json", "config.yaml"])
        .file("config.yaml", std::fs::read(&example).unwrap())
        .run();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(want.status, 1);
    let have = text(&out.stdout).replace("/config.yaml", "config.yaml");
    assert_eq!(have, want.stdout);
    assert!(have.contains("kindling::"), "no findings: {have}");

    let agent = root().join("examples/kindling-agent.yaml");
    std::fs::copy(&agent, dir.path().join("agent.yaml")).unwrap();
    for target in ["tree", "ignition"] {
        let out_dir = format!("/out-{target}");
        let out = chroot(
            dir.path(),
            &[
                "/kindling",
                "compile",
                "/agent.yaml",
                "--out",
                &out_dir,
                "--target",
                target,
            ],
        );
        assert!(
            out.status.success(),
            "compile --target {target}: {}",
            text(&out.stderr)
        );
        let local = Run::new(&["compile", "agent.yaml", "--out", "out", "--target", target])
            .file("agent.yaml", std::fs::read(&agent).unwrap())
            .run();
        assert_eq!(local.status, 0, "{}", local.stderr);
        let (have, want) = (dir.path().join(&out_dir[1..]), local.dir.path().join("out"));
        assert_eq!(files_below(&have), files_below(&want));
        for rel in files_below(&want) {
            let (h, w) = (have.join(&rel), want.join(&rel));
            if w.is_symlink() {
                assert_eq!(
                    std::fs::read_link(h).unwrap(),
                    std::fs::read_link(w).unwrap()
                );
            } else {
                assert_eq!(
                    std::fs::read(h).unwrap(),
                    std::fs::read(w).unwrap(),
                    "{rel}"
                );
            }
        }
    }
    // Nothing else appeared in the root: no temporary files, no caches.
    let mut top: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(
        top,
        [
            "agent.yaml",
            "config.yaml",
            "kindling",
            "out-ignition",
            "out-tree"
        ]
    );
}

#[test]
fn static_binary_reports_agent_status_from_the_root_it_runs_in() {
    // A root that is no node (no release file, the agent never ran): said, status 1.
    let dir = bare_root();
    let out = chroot(dir.path(), &["/kindling", "agent", "status", "--root", "/"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("/ is not a CoreOS or Flatcar node"),
        "{}",
        text(&out.stderr)
    );

    // What agent status reads: the record under /var/lib/kindling and, for the running
    // version, the release file. Both exist only inside this root, so the answer proves
    // the binary read them there.
    let record = kindling::agent::state::RecordWire {
        status: kindling::agent::state::Status::UpdatedNeedReboot,
        last_checked_time: 1_700_000_000,
        staged: Some(kindling::agent::state::Staged {
            version: "4081.2.1".into(),
            previous_version: "4081.2.0".into(),
            slot: "7130c94a-213a-4e5a-8e26-6cce9662f132".into(),
            boot_id: "0f3e6f4c2a5b4b9c8f1d2e3a4b5c6d7e".into(),
        }),
        ..Default::default()
    };
    std::fs::create_dir_all(dir.path().join("var/lib/kindling")).unwrap();
    std::fs::write(
        dir.path().join("var/lib/kindling/agent.json"),
        serde_json::to_vec_pretty(&record).unwrap(),
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("usr/share/flatcar")).unwrap();
    std::fs::write(
        dir.path().join("usr/share/flatcar/release"),
        "FLATCAR_RELEASE_VERSION=4081.2.0\nFLATCAR_RELEASE_BOARD=amd64-usr\n",
    )
    .unwrap();
    let out = chroot(dir.path(), &["/kindling", "agent", "status", "--root", "/"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "LAST_CHECKED_TIME=1700000000\nPROGRESS=0.000000\nCURRENT_OP=UPDATE_STATUS_UPDATED_NEED_REBOOT\nNEW_VERSION=4081.2.1\nNEW_SIZE=0\n"
    );
    let out = chroot(
        dir.path(),
        &[
            "/kindling",
            "agent",
            "status",
            "--root",
            "/",
            "--format",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["running_version"], "4081.2.0");
    assert_eq!(json["current_op"], "UPDATE_STATUS_UPDATED_NEED_REBOOT");
    // Reading the status wrote nothing.
    assert_eq!(
        files_below(dir.path()),
        [
            "kindling",
            "usr/share/flatcar/release",
            "var/lib/kindling/agent.json"
        ]
    );
}

/// A fresh dpkg database in `dir` (what debootstrap starts from).
fn fresh_dpkg_root(dir: &Path) {
    for sub in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
    ] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    std::fs::write(dir.join("var/lib/dpkg/status"), "").unwrap();
    std::fs::write(dir.join("var/lib/dpkg/available"), "").unwrap();
}

fn dpkg(dir: &Path, args: &[&str]) -> Output {
    // --root keeps every path (files and database) inside `dir`; this machine's own dpkg
    // database is never read or written. The package has no maintainer scripts, so
    // nothing runs inside the root either.
    let out = run(Command::new("dpkg")
        .arg(format!("--root={}", dir.display()))
        .args(args)
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"));
    assert!(
        out.status.success(),
        "dpkg {args:?}: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

#[test]
fn debian_package_installs_into_a_fresh_root_and_runs_there() {
    let deb = deb();
    let info = text(&run(Command::new("dpkg-deb").arg("--field").arg(&deb)).stdout);
    assert!(info.contains("Package: kindling\n"), "{info}");
    let depends = info.lines().find_map(|l| l.strip_prefix("Depends:"));
    assert!(
        depends.is_none_or(|d| d.trim().is_empty()),
        "a static binary depends on nothing:\n{info}"
    );

    let dir = tempfile::tempdir().unwrap();
    fresh_dpkg_root(dir.path());
    dpkg(dir.path(), &["--install", deb.to_str().unwrap()]);
    let status = text(&dpkg(dir.path(), &["--status", "kindling"]).stdout);
    assert!(status.contains("Status: install ok installed"), "{status}");

    let out = chroot(dir.path(), &["/usr/bin/kindling", "--version"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        format!("kindling {}\n", env!("CARGO_PKG_VERSION"))
    );
    // The compatibility names are symlinks to the binary and answer as those tools.
    for name in kindling::cli::COMPAT_NAMES {
        let link = dir.path().join("usr/bin").join(name);
        assert_eq!(
            std::fs::read_link(&link).unwrap(),
            Path::new("kindling"),
            "{name}"
        );
    }
    let out = chroot(dir.path(), &["update_engine_client", "-status"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("Querying Update Engine status..."));
    assert!(
        text(&out.stdout).contains("CURRENT_OP=UPDATE_STATUS_IDLE\n"),
        "{}",
        text(&out.stdout)
    );
    let out = chroot(dir.path(), &["coreos-cloudinit", "-version"]);
    assert_eq!(
        text(&out.stdout),
        format!(
            "coreos-cloudinit (kindling {})\n",
            env!("CARGO_PKG_VERSION")
        )
    );

    // The package holds what the binary generates, every file of it, and nothing stale.
    let generated = kindling::cli::package_files::plan("/usr/bin/kindling").unwrap();
    let listed = text(&dpkg(dir.path(), &["--listfiles", "kindling"]).stdout);
    for file in &generated.files {
        assert!(
            listed.lines().any(|l| l == file.path),
            "{} is not in the package",
            file.path
        );
        let installed = dir.path().join(&file.path[1..]);
        match &file.content {
            kindling::plan::Content::Bytes(bytes) => {
                assert_eq!(&std::fs::read(&installed).unwrap(), bytes, "{}", file.path);
            }
            kindling::plan::Content::Symlink(target) => {
                assert_eq!(std::fs::read_link(&installed).unwrap(), Path::new(target));
            }
        }
    }
    for needle in [
        "/usr/lib/systemd/system/kindling-agent.service",
        "/usr/share/dbus-1/system.d/com.coreos.update1.conf",
        "/usr/lib/systemd/system/kindling-oem.service",
        "/usr/lib/udev/rules.d/90-kindling-configdrive.rules",
        "/usr/share/bash-completion/completions/kindling",
        "/usr/share/man/man1/kindling-agent-run.1.gz",
        "/usr/share/man/man1/update_engine_client.1.gz",
        "/usr/share/man/man1/locksmithctl.1.gz",
        "/usr/share/man/man1/coreos-cloudinit.1.gz",
    ] {
        assert!(
            listed.lines().any(|l| l == needle),
            "{needle} missing:\n{listed}"
        );
    }
    let unit = std::fs::read_to_string(
        dir.path()
            .join("usr/lib/systemd/system/kindling-agent.service"),
    )
    .unwrap();
    assert!(
        unit.contains("ExecStart=/usr/bin/kindling agent run\n"),
        "{unit}"
    );
    // md5sums lists every regular file the package installs, and dpkg --verify checks them:
    // clean as installed, a changed file named.
    let md5sums = text(
        &run(Command::new("dpkg-deb")
            .args(["--info"])
            .arg(&deb)
            .arg("md5sums"))
        .stdout,
    );
    let regular: Vec<&str> = listed
        .lines()
        .filter(|l| {
            std::fs::symlink_metadata(dir.path().join(l.trim_start_matches('/')))
                .is_ok_and(|m| m.file_type().is_file())
        })
        .collect();
    assert!(regular.len() > 20, "{listed}");
    for file in &regular {
        assert!(
            md5sums
                .lines()
                .any(|l| l.len() > 34 && &l[34..] == file.trim_start_matches('/')),
            "{file} is not in md5sums:\n{md5sums}"
        );
    }
    assert_eq!(md5sums.lines().count(), regular.len(), "{md5sums}");
    let verify = dpkg(dir.path(), &["--verify", "kindling"]);
    assert_eq!(text(&verify.stdout), "", "a fresh install verifies clean");
    let readme = dir.path().join("usr/share/doc/kindling/README.md");
    let mut changed = std::fs::read(&readme).unwrap();
    changed.push(b'x');
    std::fs::write(&readme, changed).unwrap();
    let verify = run(Command::new("dpkg")
        .arg(format!("--root={}", dir.path().display()))
        .args(["--verify", "kindling"]));
    assert!(
        text(&verify.stdout).contains("/usr/share/doc/kindling/README.md"),
        "{}{}",
        text(&verify.stdout),
        text(&verify.stderr)
    );
    // The compatibility names have man pages: man renders one from the installed root.
    let man = run(Command::new("man")
        .arg("-l")
        .arg(dir.path().join("usr/share/man/man1/locksmithctl.1.gz"))
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "200"));
    let page = text(&man.stdout);
    assert!(
        page.contains("locksmithctl") && page.contains("kindling-lock(1)"),
        "{page}{}",
        text(&man.stderr)
    );
    // The man pages are man pages: man itself renders one from the installed root.
    let man = run(Command::new("man")
        .arg("-l")
        .arg(
            dir.path()
                .join("usr/share/man/man1/kindling-agent-run.1.gz"),
        )
        .env("MANPAGER", "cat")
        .env("MANWIDTH", "100"));
    let page = text(&man.stdout);
    assert!(
        page.contains("kindling agent run") && page.contains("--reboot-command"),
        "{page}"
    );

    // Removing the package leaves nothing of it behind.
    dpkg(dir.path(), &["--remove", "kindling"]);
    // dpkg removes the directories it emptied, /usr included.
    let usr = dir.path().join("usr");
    let left = if usr.exists() {
        files_below(&usr)
    } else {
        Vec::new()
    };
    assert!(left.is_empty(), "left after removal: {left:?}");
}

#[test]
fn completions_come_from_the_cli() {
    for (shell, needle) in [
        ("bash", "complete -F _kindling"),
        ("zsh", "#compdef kindling"),
        ("fish", "complete -c kindling"),
    ] {
        let out = Run::new(&["completions", shell]).run();
        assert_eq!(out.status, 0, "{}", out.stderr);
        assert!(
            out.stdout.contains(needle),
            "{shell}: {}",
            &out.stdout[..200]
        );
        // Every visible command is offered, the agent's subcommands too.
        for cmd in [
            "validate",
            "compile",
            "agent",
            "boot-units",
            "completions",
            "reset",
        ] {
            assert!(out.stdout.contains(cmd), "{shell} completion lacks {cmd}");
        }
    }
    let out = Run::new(&["completions", "tcsh"]).run();
    assert_eq!(out.status, 2);
    assert!(out.stderr.contains("bash"), "{}", out.stderr);
    // bash itself loads the script and completes a subcommand from it.
    let script = Run::new(&["completions", "bash"]).run().stdout;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kindling.bash");
    std::fs::write(&path, script).unwrap();
    let probe = format!(
        "source {}; COMP_WORDS=(kindling ag); COMP_CWORD=1; COMP_LINE='kindling ag'; COMP_POINT=11; _kindling kindling ag kindling; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        path.display()
    );
    let out = run(Command::new("bash").arg("--norc").arg("-c").arg(probe));
    assert_eq!(text(&out.stdout), "agent\n", "{}", text(&out.stderr));
}

/// The hidden commands (`#[command(hide = true)]`: the package's `package-files`, the
/// agent's `payload`) are offered by no completion script, and still run.
#[test]
fn completions_never_offer_hidden_commands() {
    // What each shell's script would hold if it offered them as commands.
    let offered: [(&str, &[&str]); 3] = [
        ("bash", &["package-files", "subcmd__payload", ",payload)"]),
        (
            "zsh",
            &["package-files", "subcmd__payload", "(payload)", "'payload:"],
        ),
        (
            "fish",
            &[
                "package-files",
                "-a \"payload\"",
                "using_subcommand payload",
            ],
        ),
    ];
    for (shell, markers) in offered {
        let out = Run::new(&["completions", shell]).run();
        assert_eq!(out.status, 0, "{}", out.stderr);
        for marker in markers {
            assert!(
                !out.stdout.contains(marker),
                "{shell} completion offers a hidden command ({marker:?})"
            );
        }
        // The visible ones, their flags and the generated ones are all still there.
        // (the top-level --version, which the re-assembled command keeps, as each shell
        // writes it).
        let version = match shell {
            "bash" => "-V --help --version",
            "zsh" => "'--version[Print version]'",
            _ => "-s V -l version",
        };
        for kept in ["update-server", "completions", "base-url", "help", version] {
            assert!(out.stdout.contains(kept), "{shell} completion lacks {kept}");
        }
    }
    // bash completes `kindling pa` to nothing now (it offered both hidden commands), and
    // `kindling up` still to update-server.
    let script = Run::new(&["completions", "bash"]).run().stdout;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kindling.bash");
    std::fs::write(&path, script).unwrap();
    for (word, want) in [("pa", ""), ("p", ""), ("up", "update-server\n")] {
        let probe = format!(
            "source {}; COMP_WORDS=(kindling {word}); COMP_CWORD=1; COMP_LINE='kindling {word}'; COMP_POINT={}; _kindling kindling {word} kindling; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            path.display(),
            9 + word.len()
        );
        let out = run(Command::new("bash").arg("--norc").arg("-c").arg(probe));
        let got = text(&out.stdout);
        let got = if got == "\n" { String::new() } else { got };
        assert_eq!(got, want, "kindling {word}<TAB>: {}", text(&out.stderr));
    }
    // Hidden, not gone: the package build still runs it.
    let out = Run::new(&[
        "package-files",
        "--out",
        "files",
        "--bin",
        "/usr/bin/kindling",
    ])
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let bash = std::fs::read_to_string(
        out.dir
            .path()
            .join("files/usr/share/bash-completion/completions/kindling"),
    )
    .unwrap();
    assert!(!bash.contains("package-files"));
    assert!(bash.contains("update-server"));
}

/// The first fenced block of `lang` after `heading` in `book/src/install.md`.
fn install_block(heading: &str, lang: &str) -> String {
    let page = std::fs::read_to_string(root().join("book/src/install.md")).unwrap();
    let start = page
        .find(heading)
        .unwrap_or_else(|| panic!("install.md has no heading {heading:?}"));
    let fence = format!("```{lang}\n");
    let body = &page[start..];
    let open = body
        .find(&fence)
        .unwrap_or_else(|| panic!("no {lang} block under {heading}"))
        + fence.len();
    let close = body[open..].find("\n```\n").unwrap() + open;
    format!("{}\n", &body[open..close])
}

#[test]
fn install_page_snippets_validate_and_compile() {
    // The stock Flatcar config is the page's included file: clean for kindling, and for
    // coreos-cloudinit (the tests/docs.rs run of the page checks that too).
    assert!(
        install_block("### A stock Flatcar node", "yaml")
            .starts_with("{{#include install/flatcar-node.yaml}}")
    );
    let stock = std::fs::read_to_string(root().join("book/src/install/flatcar-node.yaml")).unwrap();
    let out = Run::new(&["validate", "--strict", "stock.yaml"])
        .file("stock.yaml", stock.clone())
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    // What it hands to kindling apply holds the agent and its key.
    let inner = Run::new(&["compile", "stock.yaml", "--out", "out"])
        .file("stock.yaml", stock)
        .run();
    assert_eq!(inner.status, 0, "{}", inner.stderr);
    let node_yaml =
        std::fs::read_to_string(inner.dir.path().join("out/etc/kindling/node.yaml")).unwrap();
    let out = Run::new(&["compile", "node.yaml", "--out", "out", "--strict"])
        .file("node.yaml", node_yaml)
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.dir
            .path()
            .join("out/etc/systemd/system/kindling-agent.service")
            .is_file()
    );
    assert!(
        out.dir
            .path()
            .join("out/etc/kindling/trusted-keys/32C5E904496D57FF.pub")
            .is_file()
    );
    assert!(
        install_block("### When kindling reads the user-data", "yaml")
            .starts_with("{{#include install/kindling-node.yaml}}")
    );
    let config =
        std::fs::read_to_string(root().join("book/src/install/kindling-node.yaml")).unwrap();
    let out = Run::new(&["validate", "--strict", "install.yaml"])
        .file("install.yaml", config.clone())
        .run();
    assert_eq!(out.status, 0, "{}{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("0 errors, 0 warnings, 0 infos"),
        "{}",
        out.stdout
    );
    // The Ignition snippet is exactly what kindling compiles the cloud-config into.
    let out = Run::new(&[
        "compile",
        "install.yaml",
        "--out",
        "out",
        "--target",
        "ignition",
    ])
    .file("install.yaml", config.clone())
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let compiled = std::fs::read_to_string(out.dir.path().join("out/config.ign")).unwrap();
    let shown = install_block("### The same as Ignition", "json");
    assert!(
        shown == compiled,
        "install.md's Ignition snippet is not what `kindling compile --target ignition` makes of its cloud-config; replace it with:\n{compiled}"
    );
    let tree = Run::new(&["compile", "install.yaml", "--out", "out"])
        .file("install.yaml", config)
        .run();
    assert_eq!(tree.status, 0, "{}", tree.stderr);
    let unit = std::fs::read_to_string(
        tree.dir
            .path()
            .join("out/etc/systemd/system/kindling-install.service"),
    )
    .unwrap();
    assert!(unit.contains("/opt/bin/kindling"), "{unit}");
    // Both Ignition snippets pass the real ignition-validate.
    let native = install_block("### Ignition fetching the binary itself", "json");
    for (name, json) in [("compiled", compiled), ("native", native)] {
        let path = out.dir.path().join(format!("{name}.ign"));
        std::fs::write(&path, json).unwrap();
        let result = Command::new("ignition-validate")
            .arg(&path)
            .output()
            .expect("ignition-validate must be installed (Debian package ignition); scripts/test installs it");
        assert!(
            result.status.success(),
            "{name}: {}{}",
            text(&result.stdout),
            text(&result.stderr)
        );
    }
}

#[test]
fn static_binary_resolves_names_from_the_roots_etc_hosts() {
    // A static glibc loads no NSS module; glibc's built-in `files` source still reads the
    // root's /etc/hosts (no nsswitch.conf, no libnss_*.so in the root). A name only this
    // root knows reaches a server on 127.0.0.1 that answers 404 to everything.
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, Ordering};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let server = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while !stop.load(Ordering::Relaxed) && std::time::Instant::now() < deadline {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                            .unwrap();
                        let mut buf = [0u8; 4096];
                        let _ = conn.read(&mut buf);
                        let _ = conn.write_all(
                            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                        );
                    }
                    Err(_) => std::thread::sleep(std::time::Duration::from_millis(10)),
                }
            }
        })
    };
    let dir = bare_root();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(
        dir.path().join("etc/hosts"),
        "127.0.0.1 etcd.kindling.test\n",
    )
    .unwrap();
    let endpoint = format!("http://etcd.kindling.test:{port}");
    let out = chroot(
        dir.path(),
        &["/kindling", "lock", "status", "--endpoint", &endpoint],
    );
    stop.store(true, Ordering::Relaxed);
    server.join().unwrap();
    let said = text(&out.stderr) + &text(&out.stdout);
    assert!(said.contains("answered HTTP 404"), "{said}");
    // The name is unknown outside that file: the same command fails to resolve it there.
    std::fs::remove_file(dir.path().join("etc/hosts")).unwrap();
    let out = chroot(
        dir.path(),
        &["/kindling", "lock", "status", "--endpoint", &endpoint],
    );
    let said = text(&out.stderr);
    assert!(said.contains("dns error"), "{said}");
}

/// `scripts/package`'s static-link check refuses a missing file, a non-ELF file and a
/// dynamically linked one (it once passed a missing file: readelf's failure read as "no
/// INTERP").
#[test]
fn static_link_check_fails_on_a_missing_non_elf_or_dynamic_file() {
    let check = |file: &Path| {
        run(Command::new(root().join("scripts/package"))
            .arg("--check-static")
            .arg(file))
    };
    let dir = tempfile::tempdir().unwrap();
    let missing = check(&dir.path().join("kindling"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        text(&missing.stderr).contains("is missing"),
        "{}",
        text(&missing.stderr)
    );
    let not_elf = check(&root().join("README.md"));
    assert_eq!(not_elf.status.code(), Some(1));
    assert!(
        text(&not_elf.stderr).contains("is not an ELF file"),
        "{}",
        text(&not_elf.stderr)
    );
    // The test build is the ordinary dynamic one.
    let dynamic = check(Path::new(env!("CARGO_BIN_EXE_kindling")));
    assert_eq!(dynamic.status.code(), Some(1));
    assert!(
        text(&dynamic.stderr).contains("is not statically linked"),
        "{}",
        text(&dynamic.stderr)
    );
}
