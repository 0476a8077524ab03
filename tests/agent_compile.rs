//! The compiler side of the kindling agent (`coreos.update.agent: kindling`, `signing-keys`,
//! `health-check`, the check timing): what a node gets, checked on compiled trees and
//! Ignition configs; trusted key files that Debian's real `minisign` reads and verifies
//! with; and every new finding pointing at exactly the text it is about.
//! (`systemd-analyze verify` and `ignition-validate` run on `examples/kindling-agent.yaml`
//! with the other examples, in `compile.rs`.)

use std::path::{Path, PathBuf};
use std::process::Command;

use kindling::plan::{AGENT_BINARY, AGENT_UNIT, TRUSTED_KEYS_DIR};

use crate::support::common::{Run, root, validate_text};

/// The key of `examples/kindling-agent.yaml`, made with `minisign -G -W`.
const EXAMPLE_KEY: &str = "RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0";

fn compile(config: &Path, out: &Path, target: &str) {
    let o = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["compile", "--target", target, "--out"])
        .arg(out)
        .arg(config)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "compile {}: {}",
        config.display(),
        String::from_utf8_lossy(&o.stderr)
    );
}

fn read(tree: &Path, path: &str) -> String {
    std::fs::read_to_string(tree.join(path.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn link(tree: &Path, path: &str) -> PathBuf {
    std::fs::read_link(tree.join(path.trim_start_matches('/')))
        .unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn kindling_agent_example_compiles_as_specified() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    compile(&root().join("examples/kindling-agent.yaml"), &tree, "tree");

    let unit = read(&tree, &format!("/etc/systemd/system/{AGENT_UNIT}"));
    for line in [
        format!("ExecStart={AGENT_BINARY} agent run"),
        "Restart=on-failure".into(),
        "After=network-online.target".into(),
        "Wants=network-online.target".into(),
        "WantedBy=multi-user.target".into(),
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} not in\n{unit}");
    }
    assert_eq!(
        read(
            &tree,
            &format!("/etc/systemd/system/{AGENT_UNIT}.d/proxy.conf")
        ),
        "[Service]\nEnvironment=ALL_PROXY=http://proxy.example.com:3128\n",
        "the agent gets the proxy as update-engine would"
    );
    for masked in ["update-engine.service", "locksmithd.service"] {
        assert_eq!(
            link(&tree, &format!("/etc/systemd/system/{masked}")),
            Path::new("/dev/null"),
            "{masked} is masked in /etc"
        );
        assert!(
            !tree
                .join(format!("etc/systemd/system/{masked}.d/proxy.conf"))
                .exists()
        );
    }
    assert_eq!(
        read(&tree, "/etc/coreos/update.conf"),
        "GROUP=stable\n\
KINDLING_CHECK_INTERVAL=3600\n\
KINDLING_CHECK_JITTER=600\n\
KINDLING_FIRST_CHECK_DELAY=600\n\
KINDLING_HEALTH_COMMAND=curl -fsS http://127.0.0.1:8080/healthz\n\
KINDLING_HEALTH_UNITS=docker.service\n\
KINDLING_MAINTENANCE_WINDOW=Sun 04:00\n\
KINDLING_MAINTENANCE_WINDOW_LENGTH=3600\n\
KINDLING_REBOOT_RANDOM_DELAY=1800\n\
REBOOT_STRATEGY=best-effort\n\
SERVER=https://updates.example.com/v1/update/\n"
    );
    let key_path = format!("{TRUSTED_KEYS_DIR}/32C5E904496D57FF.pub");
    assert_eq!(
        read(&tree, &key_path),
        format!("untrusted comment: minisign public key 32C5E904496D57FF\n{EXAMPLE_KEY}\n")
    );
    // The agent checks the maintenance window itself: no timer, no script runs
    // `lock reboot` once.
    for gone in [
        "opt/bin/update-window.sh",
        "etc/systemd/system/update-window.timer",
        "run/systemd/system/update-window.timer",
        "run/systemd/system/update-window.service",
    ] {
        assert!(!tree.join(gone).exists(), "{gone} is generated");
    }

    let manifest: serde_json::Value =
        serde_json::from_str(&read(&tree, "kindling-plan.json")).unwrap();
    let actions: Vec<String> = manifest["actions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {} {}",
                a["action"].as_str().unwrap(),
                a["verb"].as_str().unwrap_or(""),
                a["unit"].as_str().unwrap_or("")
            )
        })
        .collect();
    for want in [
        format!("enable  {AGENT_UNIT}"),
        format!("systemctl restart {AGENT_UNIT}"),
        "systemctl stop update-engine.service".into(),
        "systemctl stop locksmithd.service".into(),
    ] {
        assert!(actions.contains(&want), "{want} not in {actions:#?}");
    }
    assert!(
        !actions.iter().any(|a| a.contains("restart update-engine")
            || a.contains("restart locksmithd")
            || a.contains("unmask  locksmithd")
            || a.contains("unmask  update-engine")),
        "{actions:#?}"
    );
    let key_entry = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == key_path.as_str())
        .unwrap();
    assert_eq!(key_entry["mode"], "0644");

    // Ignition: the same units, masks and key.
    let ign = dir.path().join("ign");
    compile(
        &root().join("examples/kindling-agent.yaml"),
        &ign,
        "ignition",
    );
    let config: serde_json::Value = serde_json::from_str(&read(&ign, "config.ign")).unwrap();
    let units = config["systemd"]["units"].as_array().unwrap();
    let unit_named = |name: &str| units.iter().find(|u| u["name"] == name).unwrap().clone();
    let agent = unit_named(AGENT_UNIT);
    assert_eq!(agent["enabled"], true);
    assert_eq!(agent["contents"], unit.as_str());
    assert_eq!(agent["dropins"][0]["name"], "proxy.conf");
    assert_eq!(unit_named("update-engine.service")["mask"], true);
    assert_eq!(unit_named("locksmithd.service")["mask"], true);
    let files = config["storage"]["files"].as_array().unwrap();
    let key = files
        .iter()
        .find(|f| f["path"] == key_path.as_str())
        .unwrap();
    assert_eq!(key["mode"], 0o644);
}

#[test]
fn update_engine_stays_the_default() {
    // The same lines, so that the manifests' line numbers agree too.
    let base = "#cloud-config\ncoreos:\n  update:\n    # no agent: the default\n    group: stable\n    reboot-strategy: etcd-lock\n    proxy: http://proxy.example.com:3128\n  locksmith:\n    endpoint: http://10.0.0.10:2379\n";
    let explicit = base.replace("    # no agent: the default", "    agent: update-engine");
    let dir = tempfile::tempdir().unwrap();
    let mut trees = Vec::new();
    for (name, text) in [("default", base.to_string()), ("explicit", explicit)] {
        let config = dir.path().join(format!("{name}.yaml"));
        std::fs::write(&config, text).unwrap();
        let tree = dir.path().join(name);
        compile(&config, &tree, "tree");
        assert!(!tree.join("etc/systemd/system").join(AGENT_UNIT).exists());
        assert!(!tree.join("etc/kindling").exists());
        assert!(
            tree.join("etc/systemd/system/update-engine.service.d/proxy.conf")
                .is_file()
        );
        let manifest = read(&tree, "kindling-plan.json");
        // The manifest names its input's hash; everything else must be the same.
        trees.push(
            manifest
                .lines()
                .filter(|l| !l.contains("input_sha256"))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        assert!(!manifest.contains("kindling-agent"), "{manifest}");
    }
    assert_eq!(trees[0], trees[1], "agent: update-engine changes nothing");
}

/// Debian's minisign, which the test needs (never skipped).
fn minisign(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new("minisign")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("minisign must be installed (Debian package minisign; scripts/test installs it)");
    assert!(
        out.status.success(),
        "minisign {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn trusted_key_files_verify_real_minisign_signatures() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    minisign(d, &["-G", "-W", "-p", "k.pub", "-s", "k.key"]);
    std::fs::write(d.join("payload.img"), b"a filesystem image, say").unwrap();
    minisign(d, &["-S", "-s", "k.key", "-m", "payload.img"]);
    let public = std::fs::read_to_string(d.join("k.pub")).unwrap();
    let mut lines = public.lines();
    let comment = lines.next().unwrap();
    let key = lines.next().unwrap();
    // minisign names the key in its comment, in hex without leading zeros.
    let id = comment.rsplit(' ').next().unwrap();
    let file_name = format!("{:0>16}.pub", id);

    for (form, entry) in [
        (
            "two lines",
            format!("|\n        {comment}\n        {key}\n"),
        ),
        ("key line", format!("{key}\n")),
    ] {
        let config = format!(
            "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - {entry}"
        );
        let out = Run::new(&["compile", "c.yaml", "--out", "tree"])
            .file("c.yaml", config)
            .run();
        assert_eq!(out.status, 0, "{form}: {}", out.stderr);
        let trusted = out
            .dir
            .path()
            .join("tree")
            .join(TRUSTED_KEYS_DIR.trim_start_matches('/'));
        let names: Vec<String> = std::fs::read_dir(&trusted)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![file_name.clone()], "{form}");
        let written = trusted.join(&file_name);
        assert_eq!(
            std::fs::read_to_string(&written).unwrap(),
            public,
            "{form}: the file is the .pub file minisign wrote"
        );
        let verified = minisign(
            d,
            &["-V", "-p", written.to_str().unwrap(), "-m", "payload.img"],
        );
        assert!(
            String::from_utf8_lossy(&verified.stdout)
                .contains("Signature and comment signature verified"),
            "{form}: {}",
            String::from_utf8_lossy(&verified.stdout)
        );
    }

    // The secret key, pasted by mistake, is refused and nothing is written.
    let secret = std::fs::read_to_string(d.join("k.key")).unwrap();
    let secret_line = secret.lines().nth(1).unwrap();
    let out = Run::new(&["compile", "c.yaml", "--out", "tree"])
        .file(
            "c.yaml",
            format!("#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys:\n      - {secret_line}\n"),
        )
        .run();
    assert_eq!(out.status, 1, "{}", out.stderr);
    assert!(out.stderr.contains("SECRET key"), "{}", out.stderr);
    assert!(!out.dir.path().join("tree").exists());
}

/// `(config, code, the text the finding's span covers, part of the message)`.
const SPANS: &[(&str, &str, &str, &str)] = &[
    (
        "    agent: kindlin\n",
        "kindling::update::agent",
        "kindlin",
        "did you mean kindling",
    ),
    (
        "    agent: kindling\n    signing-keys:\n      - |\n        untrusted comment: k\n        RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUU#HLDZ9qv0\n",
        "kindling::update::signing-key",
        "#",
        "not a base64 character",
    ),
    (
        "    agent: kindling\n    signing-keys:\n      - |\n        comment: k\n        RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0\n",
        "kindling::update::signing-key",
        "comment: k",
        "untrusted comment: ",
    ),
    (
        "    agent: kindling\n    signing-keys: ['RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZU']\n",
        "kindling::update::signing-key",
        "RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZU",
        "base64",
    ),
    (
        "    agent: kindling\n    signing-keys:\n      - RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0\n      - \"RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0\"\n",
        "kindling::update::duplicate-signing-key",
        "\"RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0\"",
        "already listed",
    ),
    (
        "    agent: kindling\n",
        "kindling::update::no-signing-keys",
        "kindling",
        "no signing-keys",
    ),
    (
        "    agent: kindling\n    health-check:\n      units: [docker.service, etcd]\n",
        "kindling::update::health-check",
        "etcd",
        "not a unit name",
    ),
    (
        "    agent: kindling\n    health-check:\n      command: |\n        systemctl is-active docker\n        curl -fsS http://127.0.0.1/\n",
        "kindling::update::health-check",
        "curl -fsS http://127.0.0.1/",
        "several lines",
    ),
    (
        "    agent: kindling\n    health-check: {}\n",
        "kindling::update::health-check",
        "health-check",
        "checks nothing",
    ),
    (
        "    agent: kindling\n    check-interval: 1 hour and a half\n",
        "kindling::update::check-timing",
        "1 hour and a half",
        "not a time span",
    ),
    (
        "    agent: kindling\n    first-check-delay: infinity\n",
        "kindling::update::check-timing",
        "infinity",
        "finite",
    ),
    (
        "    agent: kindling\n    check-interval: 0s\n",
        "kindling::update::check-timing",
        "0s",
        "zero",
    ),
    (
        "    check-jitter: 5min\n",
        "kindling::update::agent-setting-ignored",
        "check-jitter",
        "update-engine ignores it",
    ),
    (
        "    agent: update-engine\n    signing-keys: [RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0]\n",
        "kindling::update::agent-setting-ignored",
        "signing-keys",
        "update-engine ignores it",
    ),
];

#[test]
fn agent_findings_point_at_exactly_their_text() {
    let mut failures = Vec::new();
    for (update, code, covered, message) in SPANS {
        let text = format!("#cloud-config\ncoreos:\n  update:\n{update}");
        let v = validate_text(&text);
        let found = v.findings.iter().find(|f| {
            f.rule.code == *code
                && text.get(f.span.start..f.span.end) == Some(covered)
                && f.message.contains(message)
        });
        if found.is_none() {
            let seen: Vec<_> = v
                .findings
                .iter()
                .map(|f| {
                    format!(
                        "{} {:?} {:?}",
                        f.rule.code,
                        text.get(f.span.start..f.span.end),
                        f.message
                    )
                })
                .collect();
            failures.push(format!(
                "{code} on {covered:?} ({message}):\n{update}seen: {seen:#?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_unit_file_of_the_config_may_not_replace_the_agents() {
    let v = validate_text(
        "#cloud-config\ncoreos:\n  update:\n    agent: kindling\n    signing-keys: [RWT/V21JBOnFMnna0UBn+nGLsz2oRH+W2UuiJJrfpZJXZUUnHLDZ9qv0]\n  units:\n    - name: kindling-agent.service\n      content: \"[Service]\\nExecStart=/bin/true\\n\"\n    - name: kindling-agent.service\n      drop_ins:\n        - name: 10-env.conf\n          content: \"[Service]\\nEnvironment=RUST_LOG=debug\\n\"\n",
    );
    let agent: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.rule.code == "kindling::update::agent")
        .collect();
    assert_eq!(agent.len(), 1, "{:?}", v.findings);
    assert_eq!(v.source.position(agent[0].span.start).line, 7);
    assert!(
        agent[0].message.contains("replaces"),
        "{}",
        agent[0].message
    );
}

#[test]
fn check_timing_is_read_as_systemd_analyze_reads_it() {
    for span in [
        "90", "1h", "1h 30m", "1.5h", ".5s", "1.25min", "0.3333s", "2 weeks", "1M", "1y", "10msec",
        "5min 3s", "1hour",
    ] {
        let out = Command::new("systemd-analyze")
            .args(["timespan", span])
            .output()
            .expect("systemd-analyze must be installed (Debian package systemd)");
        let text = String::from_utf8_lossy(&out.stdout);
        let usec: u64 = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("μs:"))
            .unwrap_or_else(|| panic!("{span}: {text}"))
            .trim()
            .parse()
            .unwrap();
        assert_eq!(
            kindling::units::values::timespan_usec(span),
            Ok(Some(usec)),
            "{span}"
        );
        assert_eq!(
            kindling::plan::agent::seconds(span),
            Ok(usec.div_ceil(1_000_000)),
            "{span}"
        );
    }
}
