//! `kindling compile`, checked by the real tools: every example compiles to a tree and to
//! Ignition (both snapshotted under `snapshots/compile/`), twice to the same bytes; every
//! generated unit passes `systemd-analyze verify`; every Ignition config passes Debian's
//! `ignition-validate`; the real corpus configs compile and their units verify too.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::common::{Run, corpus, root};

/// Binaries Container Linux / Flatcar images ship in /usr that this test machine lacks;
/// `systemd-analyze verify` checks ExecStart= against the host, so "is not executable" is
/// tolerated for these (and for the paths the config itself writes), nothing else.
const IMAGE_BINARIES: &[&str] = &[
    "/usr/bin/docker",
    "/usr/bin/etcdctl",
    "/usr/bin/etcd2",
    "/usr/bin/fleetctl",
    "/usr/bin/rkt",
    "/usr/bin/locksmithctl",
    "/usr/bin/update_engine_client",
    "/usr/bin/flannelctl",
    "/usr/bin/coreos-cloudinit",
    "/usr/bin/toolbox",
    "/usr/lib/coreos/dockerd",
    "/usr/bin/etcd",
    "/usr/bin/flanneld",
];

fn examples() -> Vec<PathBuf> {
    crate::support::common::yaml_files(&root().join("examples"))
        .into_iter()
        .filter(|p| !p.ends_with("mistakes.yaml"))
        .collect()
}

/// Compile `examples/<name>.yaml` to a tree in a fresh directory (kept alive by the
/// returned guard).
fn compile_example(name: &str, dir: &tempfile::TempDir, sub: &str) -> PathBuf {
    let out = dir.path().join(sub);
    let example = root().join("examples").join(format!("{name}.yaml"));
    compile(&[
        "compile",
        example.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

fn compile(args: &[&str]) -> crate::support::common::Output {
    let out = Run::new(args).run();
    assert_eq!(
        out.status, 0,
        "kindling {args:?}:\n{}{}",
        out.stdout, out.stderr
    );
    out
}

/// Every path below `dir`, sorted, with what it is.
fn listing(dir: &Path) -> Vec<(String, std::fs::Metadata)> {
    let mut out: Vec<_> = crate::support::common::tree(dir)
        .into_iter()
        .map(|(path, meta)| {
            let rel = path
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .to_string();
            (rel, meta)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// One readable text for a whole tree: each file with its mode and content.
fn describe_tree(dir: &Path) -> String {
    let mut text = String::new();
    for (rel, meta) in listing(dir) {
        let path = dir.join(&rel);
        if meta.is_dir() {
            continue;
        }
        if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            text.push_str(&format!("== /{rel} -> {}\n\n", target.display()));
            continue;
        }
        let mode = meta.permissions().mode() & 0o7777;
        let bytes = std::fs::read(&path).unwrap();
        let name = if rel == "kindling-plan.json" {
            rel.clone()
        } else {
            format!("/{rel}")
        };
        text.push_str(&format!("== {name} ({mode:04o}, {} bytes)\n", bytes.len()));
        match String::from_utf8(bytes) {
            Ok(s) => {
                text.push_str(&s);
                if !s.ends_with('\n') {
                    text.push_str("\n[no newline at end of file]\n");
                }
            }
            Err(e) => text.push_str(&format!("[binary: {:?}]\n", e.as_bytes())),
        }
        text.push('\n');
    }
    text
}

#[test]
fn examples_compile_to_both_targets_as_snapshotted() {
    let dir = tempfile::tempdir().unwrap();
    let mut snapshots = Vec::new();
    for example in examples() {
        let stem = example.file_stem().unwrap().to_string_lossy().to_string();
        let rel = format!("examples/{stem}.yaml");
        // Run from the repository root so the manifest and findings name the example as
        // the README does.
        let tree = dir.path().join(format!("{stem}-tree"));
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["compile", &rel, "--out"])
            .arg(&tree)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{stem}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        snapshots.push((format!("{stem}.tree"), describe_tree(&tree)));

        let ign = dir.path().join(format!("{stem}-ign"));
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["compile", &rel, "--target", "ignition", "--out"])
            .arg(&ign)
            .current_dir(root())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{stem}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let config = std::fs::read_to_string(ign.join("config.ign")).unwrap();
        snapshots.push((format!("{stem}.ign"), config));
    }
    crate::support::insta::assert_snapshots("compile", &snapshots);
}

#[test]
fn compiling_twice_gives_identical_bytes() {
    for example in examples() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        for dir in [&a, &b] {
            let out = dir.path().join("tree");
            compile(&[
                "compile",
                example.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ]);
            let ign = dir.path().join("ign");
            compile(&[
                "compile",
                example.to_str().unwrap(),
                "--target",
                "ignition",
                "--out",
                ign.to_str().unwrap(),
            ]);
        }
        for sub in ["tree", "ign"] {
            assert_eq!(
                describe_tree(&a.path().join(sub)),
                describe_tree(&b.path().join(sub)),
                "{}: {sub} differs between two compiles",
                example.display()
            );
        }
    }
}

#[test]
fn update_window_recipe_compiles_as_specified() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile_example("update-window", &dir, "tree");
    let update_conf = std::fs::read_to_string(out.join("etc/coreos/update.conf")).unwrap();
    assert!(
        update_conf.lines().any(|l| l == "GROUP=stable"),
        "{update_conf}"
    );
    assert!(
        update_conf.lines().any(|l| l == "REBOOT_STRATEGY=off"),
        "{update_conf}"
    );
    for unit in ["update-window.service", "update-window.timer"] {
        assert!(
            out.join("run/systemd/system").join(unit).is_file(),
            "{unit}"
        );
    }
    let script = std::fs::metadata(out.join("opt/bin/update-window.sh")).unwrap();
    assert_eq!(script.permissions().mode() & 0o7777, 0o755);
    let locksmith = std::fs::read_to_string(
        out.join("run/systemd/system/locksmithd.service.d/20-cloudinit.conf"),
    )
    .unwrap();
    assert!(
        locksmith.contains("Environment=\"REBOOT_WINDOW_START=05:00\""),
        "{locksmith}"
    );
    assert!(
        locksmith.contains("Environment=\"REBOOT_WINDOW_LENGTH=1h\""),
        "{locksmith}"
    );
    let mask = std::fs::read_link(out.join("run/systemd/system/locksmithd.service")).unwrap();
    assert_eq!(
        mask,
        Path::new("/dev/null"),
        "reboot-strategy off masks locksmithd in /run"
    );
    assert!(
        !out.join("etc/systemd/system/update-engine.service.d/proxy.conf")
            .exists()
    );

    // The same recipe through the extension key: the same node files.
    let ext = compile_example("maintenance-window", &dir, "ext");
    let node_files = |d: &Path| -> Vec<(String, Vec<u8>)> {
        listing(d)
            .into_iter()
            .filter(|(rel, m)| m.is_file() && rel != "kindling-plan.json")
            .map(|(rel, _)| (rel.clone(), std::fs::read(d.join(&rel)).unwrap()))
            .collect()
    };
    assert_eq!(
        node_files(&out),
        node_files(&ext),
        "hand-written recipe and maintenance-window differ"
    );

    // The proxy drop-in appears when a proxy is set.
    let proxy = compile_example("update-proxy", &dir, "proxy");
    let dropin = std::fs::read_to_string(
        proxy.join("etc/systemd/system/update-engine.service.d/proxy.conf"),
    )
    .unwrap();
    assert_eq!(
        dropin,
        "[Service]\nEnvironment=ALL_PROXY=http://proxy.example.com:3128\n"
    );
    let manifest = std::fs::read_to_string(proxy.join("kindling-plan.json")).unwrap();
    assert!(
        manifest.contains("\"unit\": \"update-engine.service\"")
            && manifest.contains("\"verb\": \"restart\"")
    );
}

/// Run `systemd-analyze verify` on every unit (with its drop-ins) of a compiled tree;
/// returns the lines that are real problems.
fn verify_units(tree: &Path, strict: bool) -> Vec<String> {
    let written: BTreeSet<String> = listing(tree)
        .into_iter()
        .filter(|(_, m)| !m.is_dir())
        .map(|(rel, _)| format!("/{rel}"))
        .collect();
    let work = tempfile::tempdir().unwrap();
    let mut units = Vec::new();
    for base in ["etc/systemd/system", "run/systemd/system"] {
        let Ok(entries) = std::fs::read_dir(tree.join(base)) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.file_type().is_symlink() {
                continue;
            }
            if meta.is_dir() && name.ends_with(".d") {
                let target = work.path().join(&name);
                std::fs::create_dir_all(&target).unwrap();
                for f in std::fs::read_dir(&path).unwrap() {
                    let f = f.unwrap().path();
                    std::fs::copy(&f, target.join(f.file_name().unwrap())).unwrap();
                }
            } else if meta.is_file() {
                std::fs::copy(&path, work.path().join(&name)).unwrap();
                if !units.contains(&name) {
                    units.push(name);
                }
            }
        }
    }
    // Units the image ships (docker.service, locksmithd.service, ...) that the config only
    // adds drop-ins to, or that its sockets activate: a stand-in, so systemd-analyze loads
    // and checks the drop-ins.
    let mut stubs = Vec::new();
    for entry in std::fs::read_dir(work.path()).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().to_string();
        if let Some(unit) = name.strip_suffix(".d") {
            stubs.push(unit.to_string());
        }
        if let Some(stem) = name.strip_suffix(".socket") {
            stubs.push(format!("{stem}.service"));
            let text = std::fs::read_to_string(work.path().join(&name)).unwrap_or_default();
            stubs.extend(
                text.lines()
                    .filter_map(|l| l.strip_prefix("Service="))
                    .map(str::to_string),
            );
        }
    }
    for stub in stubs {
        let path = work.path().join(&stub);
        if path.exists() {
            continue;
        }
        let body = if stub.ends_with(".service") {
            "[Service]\nExecStart=/bin/true\n"
        } else if stub.ends_with(".socket") {
            "[Socket]\nListenStream=/run/kindling-test.sock\n"
        } else if stub.ends_with(".timer") {
            "[Timer]\nOnCalendar=daily\n"
        } else {
            "[Unit]\nDescription=stand-in\n"
        };
        std::fs::write(&path, body).unwrap();
        units.push(stub);
    }
    if units.is_empty() {
        return Vec::new();
    }
    let out = Command::new("systemd-analyze")
        .args(["verify", "--man=no"])
        .args(&units)
        .current_dir(work.path())
        .env("SYSTEMD_LOG_COLOR", "0")
        .output()
        .expect("systemd-analyze must be installed (Debian package systemd)");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let mut problems: Vec<String> = stderr
        .lines()
        .filter(|line| !line.trim().is_empty())
        .filter(|line| {
            // "<unit>: Command /opt/bin/x is not executable: No such file or directory"
            let executable = line
                .split("Command ")
                .nth(1)
                .and_then(|rest| rest.split(" is not executable").next());
            let tolerated = match executable {
                // The kindling binary is installed on the node, not by the config.
                Some(cmd) => {
                    !strict
                        || written.contains(cmd)
                        || IMAGE_BINARIES.contains(&cmd)
                        || cmd == kindling::plan::AGENT_BINARY
                }
                // A dependency the image or the node provides at runtime (a mount, a
                // service the config does not define).
                None => !strict && line.contains("Failed to create") && line.contains("not found"),
            };
            !tolerated
        })
        .map(str::to_string)
        .collect();
    if !out.status.success() && problems.is_empty() && !stderr.contains("is not executable") {
        problems.push(format!("systemd-analyze exited {}", out.status));
    }
    problems
}

#[test]
fn generated_units_pass_systemd_analyze_verify() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for example in examples() {
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        compile(&[
            "compile",
            example.to_str().unwrap(),
            "--out",
            tree.to_str().unwrap(),
        ]);
        let problems = verify_units(&tree, true);
        checked += 1;
        if !problems.is_empty() {
            failures.push(format!(
                "{}:\n  {}",
                example.display(),
                problems.join("\n  ")
            ));
        }
    }
    assert!(checked >= 6);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn ignition_output_passes_ignition_validate() {
    let mut failures = Vec::new();
    for example in examples() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("ign");
        compile(&[
            "compile",
            example.to_str().unwrap(),
            "--target",
            "ignition",
            "--out",
            out.to_str().unwrap(),
        ]);
        let result = Command::new("ignition-validate")
            .arg(out.join("config.ign"))
            .output()
            .expect("ignition-validate must be installed (Debian package ignition); scripts/test installs it");
        if !result.status.success() || !result.stdout.is_empty() {
            failures.push(format!(
                "{}: {}{}",
                example.display(),
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Mistakes in the corpus configs' own unit texts, which kindling writes verbatim and
/// systemd-analyze reports: (file number, part of the line, why). A row that no longer
/// matches anything fails the test, so the list stays true.
const CORPUS_UNIT_MISTAKES: &[(&str, &str, &str)] = &[
    (
        "015",
        "Ignoring unknown escape sequences",
        "ExecStart uses \\$ for a literal dollar; systemd's escape is $$",
    ),
    (
        "027",
        "cyclic",
        "format-var-lib-ephemeral.service orders itself before var-lib.mount without DefaultDependencies=no: an ordering cycle at boot",
    ),
    ("027", "ordering cycle", "the same cycle"),
    (
        "031",
        "flanneld.Service",
        "After=flanneld.Service: unit names are case-sensitive (flanneld.service)",
    ),
    (
        "031",
        "Unknown key 'Restart' in section [Unit]",
        "Restart= belongs in [Service]",
    ),
    (
        "031",
        "cyclic",
        "format-ebs-volume.service orders itself before var-lib-docker.mount without DefaultDependencies=no",
    ),
    ("031", "ordering cycle", "the same cycle"),
    (
        "034",
        "Invalid syntax",
        "an Environment= value continued over several lines without quotes",
    ),
    (
        "034",
        "cyclic",
        "format-docker-volume.service orders itself before var-lib-docker.mount without DefaultDependencies=no",
    ),
    ("034", "ordering cycle", "the same cycle"),
    (
        "041",
        "cyclic",
        "a format service ordered before the mount it prepares, without DefaultDependencies=no",
    ),
    ("041", "ordering cycle", "the same cycle"),
    (
        "065",
        "Unknown key 'Restart' in section [Unit]",
        "Restart= belongs in [Service]",
    ),
    (
        "090",
        "cyclic",
        "format-ephemeral.service orders itself before var-lib-docker.mount without DefaultDependencies=no",
    ),
    ("090", "ordering cycle", "the same cycle"),
    (
        "090",
        "Invalid environment assignment",
        "Environment='DOCKER_OPTS=--insecure-registry=\"0.0.0.0/0\"' is quoted so that systemd sees a word without '='",
    ),
    (
        "105",
        "cyclic",
        "a format service ordered before the mount it prepares, without DefaultDependencies=no",
    ),
    ("105", "ordering cycle", "the same cycle"),
];

/// Lines of a cycle report that only restate the cycle.
const CYCLE_DETAIL: &[&str] = &[
    "Found dependency on",
    "deleted to break",
    "Unable to break",
    "See system logs",
    "ordering cycle",
];

/// Test values for the substitution variables.
const VARS: [&str; 8] = [
    "--var",
    "public_ipv4=203.0.113.10",
    "--var",
    "private_ipv4=10.0.0.2",
    "--var",
    "public_ipv6=2001:db8::10",
    "--var",
    "private_ipv6=fd00::2",
];

#[test]
fn corpus_configs_compile_and_their_units_verify() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus("cloud-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut compiled = 0;
    let mut failures = Vec::new();
    let mut matched: BTreeSet<(String, Option<String>)> = BTreeSet::new();
    for path in files {
        let v = crate::support::common::validate_file(&path);
        if v.has(kindling::diagnostic::Severity::Error)
            || v.source.kind != kindling::source::UserData::CloudConfig
        {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let tree = dir.path().join("tree");
        let mut args = vec![
            "compile",
            path.to_str().unwrap(),
            "--out",
            tree.to_str().unwrap(),
        ];
        args.extend(VARS);
        let out = Run::new(&args).run();
        if out.status != 0 {
            failures.push(format!(
                "{}: compile failed: {}",
                path.display(),
                out.stderr
            ));
            continue;
        }
        compiled += 1;
        let ign = dir.path().join("ign");
        let mut args = vec![
            "compile",
            path.to_str().unwrap(),
            "--target",
            "ignition",
            "--out",
            ign.to_str().unwrap(),
        ];
        args.extend(VARS);
        let out = Run::new(&args).run();
        if out.status == 0 {
            let result = Command::new("ignition-validate")
                .arg(ign.join("config.ign"))
                .output()
                .unwrap();
            if !result.status.success() {
                failures.push(format!(
                    "{}: ignition-validate: {}",
                    path.display(),
                    String::from_utf8_lossy(&result.stdout)
                ));
            }
        }
        let number = &path.file_name().unwrap().to_string_lossy()[..3];
        let known: Vec<&(&str, &str, &str)> = CORPUS_UNIT_MISTAKES
            .iter()
            .filter(|(n, _, _)| *n == number)
            .collect();
        let has_cycle = known.iter().any(|(_, part, _)| *part == "cyclic");
        let problems: Vec<String> = verify_units(&tree, false)
            .into_iter()
            .filter(|line| {
                let explained = known.iter().any(|(_, part, _)| line.contains(part));
                let cycle_detail = has_cycle && CYCLE_DETAIL.iter().any(|d| line.contains(d));
                if explained || cycle_detail {
                    matched.insert((
                        number.to_string(),
                        known
                            .iter()
                            .find(|(_, p, _)| line.contains(p))
                            .map(|(_, p, _)| p.to_string()),
                    ));
                }
                !(explained || cycle_detail)
            })
            .collect();
        if !problems.is_empty() {
            failures.push(format!("{}:\n  {}", path.display(), problems.join("\n  ")));
        }
    }
    for (number, part, why) in CORPUS_UNIT_MISTAKES {
        if !matched.contains(&(number.to_string(), Some(part.to_string()))) {
            failures.push(format!(
                "CORPUS_UNIT_MISTAKES row ({number}, {part:?}: {why}) no longer matches; remove it"
            ));
        }
    }
    assert!(compiled >= 50, "only {compiled} corpus configs compiled");
    assert!(
        failures.is_empty(),
        "{} of {compiled}:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn unset_variables_stop_the_compile() {
    let out = Run::new(&["compile", "c.yaml", "--out", "out"])
        .file(
            "c.yaml",
            "#cloud-config\ncoreos:\n  fleet:\n    public-ip: $private_ipv4\n",
        )
        .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("kindling::compile::unset-variable"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--var private_ipv4="), "{}", out.stderr);
    let out = Run::new(&[
        "compile",
        "c.yaml",
        "--out",
        "out",
        "--var",
        "private_ipv4=10.1.2.3",
    ])
    .file(
        "c.yaml",
        "#cloud-config\ncoreos:\n  fleet:\n    public-ip: $private_ipv4\n",
    )
    .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let dropin = std::fs::read_to_string(
        out.dir
            .path()
            .join("out/run/systemd/system/fleet.service.d/20-cloudinit.conf"),
    )
    .unwrap();
    assert_eq!(
        dropin,
        "[Service]\nEnvironment=\"FLEET_PUBLIC_IP=10.1.2.3\"\n"
    );
}

/// A config whose `$public_ipv6` value turns `metadata` into a list: an error only after
/// substitution, on a line with an earlier `$private_ipv4` (13 bytes replaced by 10).
const SUBSTITUTED_ERROR: &str =
    "#cloud-config\ncoreos:\n  fleet: {public-ip: $private_ipv4, metadata: $public_ipv6}\n";

#[test]
fn findings_after_substitution_point_into_the_file_as_written() {
    let vars = [
        "--var",
        "private_ipv4=10.0.0.200",
        "--var",
        "public_ipv6=[2001:db8::10]",
        "--color",
        "never",
    ];
    let mut args = vec!["compile", "c.yaml", "--out", "out"];
    args.extend(vars);
    let out = Run::new(&args).file("c.yaml", SUBSTITUTED_ERROR).run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("after substituting variables: \"metadata\" must be a string, not a list"),
        "{}",
        out.stderr
    );
    // In the substituted text `metadata` is at 3:34 (what was reported before); in the file
    // it is at 3:37, and the excerpt is the line as written.
    assert!(out.stderr.contains("[c.yaml:3:37]"), "{}", out.stderr);
    assert!(!out.stderr.contains("3:34"), "{}", out.stderr);
    assert!(
        out.stderr
            .contains(" 3 │   fleet: {public-ip: $private_ipv4, metadata: $public_ipv6}"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("10.0.0.200"), "{}", out.stderr);

    // The same through a template: the position is the template's.
    let mut args = vec![
        "compile",
        "t.yaml.j2",
        "--out",
        "out",
        "--var",
        "name=web-1",
    ];
    args.extend(vars);
    let template = format!(
        "## template: jinja\n{}",
        SUBSTITUTED_ERROR.replace("coreos:", "hostname: {{ name }}\ncoreos:")
    );
    let out = Run::new(&args).file("t.yaml.j2", template).run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("must be a string, not a list (on node web-1)"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[t.yaml.j2:5:37]"), "{}", out.stderr);
}

#[test]
fn the_manifest_lines_are_lines_of_the_file_as_written() {
    // A two-line value (`--var` refuses one, a variables file does not) on line 5 of the
    // rendered config, kept in the block scalar by its indentation: /etc/b is on line 7 of
    // the substituted text (what the manifest said before), line 6 of the rendered config.
    let out = Run::new(&["compile", "t.yaml.j2", "--out", "out", "--vars", "v.yaml"])
        .file(
            "t.yaml.j2",
            "## template: jinja\n#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: |\n      ip=$private_ipv4\n  - path: /etc/{{ name }}\n    content: b\n",
        )
        .file(
            "v.yaml",
            "name: b\nprivate_ipv4: \"10.0.0.200\\n      10.0.0.201\"\n",
        )
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let dir = out.dir.path().join("out");
    assert_eq!(
        std::fs::read_to_string(dir.join("etc/a")).unwrap(),
        "ip=10.0.0.200\n10.0.0.201\n"
    );
    let manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("kindling-plan.json")).unwrap())
            .unwrap();
    let files: Vec<(&str, u64)> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["path"].as_str().unwrap(), f["line"].as_u64().unwrap()))
        .collect();
    assert_eq!(files, vec![("/etc/a", 3), ("/etc/b", 6)]);
}

#[test]
fn errors_write_nothing_and_foreign_directories_are_refused() {
    let out = Run::new(&["compile", "bad.yaml", "--out", "out"])
        .file(
            "bad.yaml",
            "#cloud-config\ncoreos:\n  update:\n    reboot-strategy: always\n",
        )
        .run();
    assert_eq!(out.status, 1);
    assert!(
        !out.dir.path().join("out").exists(),
        "nothing is written for a config with errors"
    );

    let run = Run::new(&["compile", "good.yaml", "--out", "mine"])
        .file("good.yaml", "#cloud-config\nhostname: node1\n");
    std::fs::create_dir(run.dir.path().join("mine")).unwrap();
    std::fs::write(run.dir.path().join("mine/precious.txt"), "keep me").unwrap();
    let out = run.run();
    assert_eq!(out.status, 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("not a kindling output"),
        "{}",
        out.stderr
    );
    let kept = std::fs::read_to_string(out.dir.path().join("mine/precious.txt")).unwrap();
    assert_eq!(kept, "keep me");
}

#[test]
fn recompiling_replaces_the_previous_tree_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.yaml");
    let out = dir.path().join("tree");
    std::fs::write(
        &config,
        "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: a\n",
    )
    .unwrap();
    compile(&[
        "compile",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(out.join("etc/a").is_file());
    std::fs::write(
        &config,
        "#cloud-config\nwrite_files:\n  - path: /etc/b\n    content: b\n",
    )
    .unwrap();
    compile(&[
        "compile",
        config.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(out.join("etc/b").is_file());
    assert!(
        !out.join("etc/a").exists(),
        "files of the previous compile are gone"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
        .filter(|n| n.starts_with(".kindling"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "temporary directories left: {leftovers:?}"
    );
}

#[test]
fn write_files_modes_and_encodings_reach_the_tree() {
    let dir = tempfile::tempdir().unwrap();
    let out = compile_example("write-files", &dir, "tree");
    let mode = |p: &str| std::fs::metadata(out.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("etc/motd"), 0o644);
    assert_eq!(
        mode("etc/kindling/plain-mode.conf"),
        0o644,
        "644 without a leading zero is octal"
    );
    assert_eq!(mode("etc/kindling/base64.txt"), 0o600);
    assert_eq!(mode("opt/bin/hello"), 0o755, "unquoted 0755 stays octal");
    let read = |p: &str| std::fs::read(out.join(p)).unwrap();
    assert_eq!(read("etc/kindling/base64.txt"), b"hello from base64\n");
    assert_eq!(read("etc/kindling/gzip-base64.txt"), b"bar");
    assert_eq!(read("etc/kindling/gzip-binary.txt"), b"hello\n");
    assert_eq!(read("etc/kindling/raw-binary.bin"), b"hello\n");
    assert_eq!(read("etc/kindling/gz-binary.txt"), b"hello\n");
    assert_eq!(read("etc/kindling/gz-base64.txt"), b"bar");
    assert_eq!(read("etc/kindling/gzip-b64.txt"), b"bar");
    assert_eq!(read("etc/kindling/b64.txt"), b"hello\n");
    assert_eq!(mode("etc/kindling/gzip-b64.txt"), 0o640);
}

#[test]
fn base_update_conf_is_merged_by_whole_keys() {
    let out = Run::new(&["compile", "c.yaml", "--out", "out", "--base-update-conf", "base.conf"])
        .file("c.yaml", "#cloud-config\ncoreos:\n  update:\n    group: beta\n")
        .file("base.conf", "# from the image\nGROUPIE=keep\nGROUP=stable\nSERVER=https://public.update.example/v1/update/\n")
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    let merged =
        std::fs::read_to_string(out.dir.path().join("out/etc/coreos/update.conf")).unwrap();
    assert_eq!(
        merged,
        "# from the image\nGROUPIE=keep\nGROUP=beta\nSERVER=https://public.update.example/v1/update/\n"
    );
    let missing = Run::new(&[
        "compile",
        "c.yaml",
        "--out",
        "out",
        "--base-update-conf",
        "nope",
    ])
    .file("c.yaml", "#cloud-config\nhostname: a\n")
    .run();
    assert_eq!(missing.status, 2);
}
