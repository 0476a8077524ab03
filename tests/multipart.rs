//! Multipart MIME user-data, built by Python's own `email` package (as `cloud-init devel
//! make-mime` builds it), through the real binary: the boot-time apply from a file and from
//! a loopback URL (cloud-config parts 7bit, base64 and gzip, a script, an Ignition part, an
//! unknown part), convergence on a second run, `validate` positions inside a part, the
//! compiler commands, and hostile files (a boundary no part uses, a gzip bomb, 10,000 parts)
//! ending with a clear message, a non-zero exit and nothing applied.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::support::datasource::{Emulator, Reply, kindling, node_root};

/// Builds a multipart/mixed message from a JSON list of parts on standard input. Each part:
/// `type` (`cloud-config`, `x-shellscript`, ... under `text/`, or a full `a/b`), `body`
/// (text), `charset` (`us-ascii` gives 7bit, `utf-8` base64), `gzip` (the body gzip'd into
/// an application/x-gzip part), `gzip_b64` (an already gzip'd body, base64 in the JSON).
const MAKE_MIME: &str = r#"
import base64, email.policy, gzip, json, sys
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.mime.application import MIMEApplication
m = MIMEMultipart()
for p in json.load(sys.stdin):
    if "gzip_b64" in p:
        part = MIMEApplication(base64.b64decode(p["gzip_b64"]), "x-gzip")
    elif p.get("gzip"):
        part = MIMEApplication(gzip.compress(p["body"].encode()), "x-gzip")
    elif "/" in p["type"]:
        main, sub = p["type"].split("/")
        part = MIMEApplication(p["body"].encode(), sub) if main == "application" else MIMEText(p["body"], sub, p.get("charset", "us-ascii"))
    else:
        part = MIMEText(p["body"], p["type"], p.get("charset", "us-ascii"))
    if "filename" in p:
        part.add_header("Content-Disposition", "attachment", filename=p["filename"])
    m.attach(part)
# `crlf`: lines end with CRLF, as mail (and Flatcar's own test data) has them.
policy = email.policy.SMTP if sys.argv[1:] == ["crlf"] else email.policy.compat32
sys.stdout.buffer.write(m.as_bytes(policy=policy))
"#;

fn make_mime(parts: &serde_json::Value) -> Vec<u8> {
    make_mime_with(parts, &[])
}

fn make_mime_with(parts: &serde_json::Value, args: &[&str]) -> Vec<u8> {
    let mut child = Command::new("python3")
        .args(["-c", MAKE_MIME])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("python3 is needed to build multipart user-data (scripts/test installs it): {e}")
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(parts.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python3 email failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A node root with a `core` user, whose `/etc/environment` gives `$private_ipv4` (the
/// file datasource has no metadata; coreos-cloudinit then reads `COREOS_PRIVATE_IPV4`).
fn node() -> tempfile::TempDir {
    let dir = node_root();
    std::fs::write(
        dir.path().join("etc/environment"),
        "COREOS_PRIVATE_IPV4=10.0.0.7\n",
    )
    .unwrap();
    dir
}

/// Every regular file below `dir` (relative path, mtime, bytes), kindling's own
/// bookkeeping under `var/lib/kindling` left out.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Option<SystemTime>, Vec<u8>)> {
    let mut out: Vec<_> = crate::support::common::tree(dir)
        .into_iter()
        .filter_map(|(p, meta)| {
            let rel = p.strip_prefix(dir).unwrap().to_path_buf();
            if rel.starts_with("var/lib/kindling") || meta.is_dir() {
                return None;
            }
            let bytes = std::fs::read(&p).unwrap_or_default();
            Some((rel, meta.modified().ok(), bytes))
        })
        .collect();
    out.sort();
    out
}

/// Text with line wrapping (and the report's `│` gutter) undone, for `contains`.
fn flat(s: &str) -> String {
    s.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

fn read(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

const SCRIPT: &str = "#!/bin/bash\necho \"booted on $private_ipv4\" > /run/booted\n";

/// Two cloud-config parts besides a 7bit one (one base64, one gzip), a script, an Ignition
/// part and an unknown part.
fn full_user_data() -> Vec<u8> {
    make_mime(&serde_json::json!([
        {"type": "cloud-config", "filename": "base.yaml", "body":
            "hostname: node-a\nssh_authorized_keys:\n  - ssh-ed25519 AAAAone one@example\nwrite_files:\n  - path: /etc/one\n    content: \"ip=$private_ipv4\\n\"\n"},
        {"type": "cloud-config", "charset": "utf-8", "body":
            "#cloud-config\nssh_authorized_keys:\n  - ssh-ed25519 AAAAtwo two@example\nwrite_files:\n  - path: /etc/two\n    permissions: '0600'\n    content: \"zwei – two\\n\"\n"},
        {"gzip": true, "body":
            "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      command: start\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello $private_ipv4\n"},
        {"type": "x-shellscript", "body": SCRIPT},
        {"type": "application/json", "body": "{\"ignition\": {\"version\": \"3.3.0\"}}"},
        {"type": "x-include-url", "body": "https://example.com/more.yaml\n"},
    ]))
}

/// What the full user-data must leave on a root, path by path.
fn check_full_root(root: &Path) {
    assert_eq!(read(root, "etc/hostname"), "node-a\n");
    assert_eq!(read(root, "etc/one"), "ip=10.0.0.7\n");
    assert_eq!(read(root, "etc/two"), "zwei – two\n");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(root.join("etc/two"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o600);
    assert_eq!(
        read(root, "etc/systemd/system/hello.service"),
        "[Service]\nExecStart=/usr/bin/echo hello 10.0.0.7\n"
    );
    let keys = read(root, "home/core/.ssh/authorized_keys.d/coreos-cloudinit");
    assert!(
        keys.contains("AAAAone") && keys.contains("AAAAtwo"),
        "both parts' keys: {keys}"
    );
    // The script part: substituted, in the workspace, run by a runtime unit.
    let scripts = root.join("var/lib/coreos-cloudinit/scripts");
    let unit = read(root, "var/lib/coreos-cloudinit/scripts/unit-name");
    let unit = unit.trim();
    assert!(unit.starts_with("coreos-cloudinit-") && unit.ends_with(".service"));
    let id = unit
        .trim_start_matches("coreos-cloudinit-")
        .trim_end_matches(".service");
    assert_eq!(
        std::fs::read_to_string(scripts.join(id)).unwrap(),
        SCRIPT.replace("$private_ipv4", "10.0.0.7")
    );
    assert!(
        read(root, &format!("run/systemd/system/{unit}")).contains(&format!(
            "ExecStart=/bin/bash /var/lib/coreos-cloudinit/scripts/{id}"
        ))
    );
    // Exactly these files, nothing from the Ignition or the unknown part.
    let files: Vec<String> = snapshot(root)
        .into_iter()
        .map(|(p, _, _)| p.to_string_lossy().into_owned())
        .collect();
    let mut want = vec![
        "etc/environment".to_string(),
        "etc/group".into(),
        "etc/hostname".into(),
        "etc/one".into(),
        "etc/passwd".into(),
        "etc/systemd/system/hello.service".into(),
        "etc/two".into(),
        "home/core/.ssh/authorized_keys".into(),
        "home/core/.ssh/authorized_keys.d/coreos-cloudinit".into(),
        format!("run/systemd/system/{unit}"),
        format!("var/lib/coreos-cloudinit/scripts/{id}"),
        "var/lib/coreos-cloudinit/scripts/unit-name".into(),
    ];
    want.sort();
    assert_eq!(files, want);
}

#[test]
fn every_part_lands_from_a_file_and_a_second_run_writes_nothing() {
    let root = node();
    let r = root.path().to_str().unwrap();
    let ud = root.path().join("user-data");
    std::fs::write(&ud, full_user_data()).unwrap();
    // The user-data file sits in the root; move it out of the snapshot's way.
    let outside = tempfile::NamedTempFile::new_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::rename(&ud, outside.path()).unwrap();
    let file = outside.path().to_str().unwrap();
    let out = kindling(&[
        "apply",
        "--from-file",
        file,
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        flat(&out.stderr)
            .contains("part 5 is an Ignition config: it is left to Ignition and not applied"),
        "{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("part 6 is text/x-include-url, which kindling does not apply"),
        "{}",
        out.stderr
    );
    check_full_root(root.path());
    let before = snapshot(root.path());
    let again = kindling(&[
        "apply",
        "--from-file",
        file,
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert_eq!(again.status, 0, "{}", again.stderr);
    assert!(again.stdout.contains("wrote 0 file(s)"), "{}", again.stdout);
    assert_eq!(
        snapshot(root.path()),
        before,
        "a second run changed the root"
    );
}

#[test]
fn from_url_diff_previews_one_plan_then_apply_lands_it() {
    let body = full_user_data();
    let server = Emulator::start(move |seen, _| {
        if seen.path == "/user-data" {
            Reply::Body(body.clone())
        } else {
            Reply::Status(404)
        }
    });
    let url = format!("{}user-data", server.url);
    let root = node();
    let r = root.path().to_str().unwrap();
    let before = snapshot(root.path());
    let diff = kindling(&["diff", "--from-url", &url, "--root", r, "--color", "never"]);
    assert_eq!(diff.status, 0, "{}", diff.stderr);
    for path in [
        "/etc/one",
        "/etc/two",
        "/etc/hostname",
        "/etc/systemd/system/hello.service",
        "/var/lib/coreos-cloudinit/scripts/unit-name",
    ] {
        assert!(
            diff.stdout.contains(path),
            "{path} not previewed:\n{}",
            diff.stdout
        );
    }
    assert!(diff.stdout.contains("+ip=10.0.0.7"), "{}", diff.stdout);
    assert_eq!(snapshot(root.path()), before, "diff wrote something");
    let out = kindling(&["apply", "--from-url", &url, "--root", r, "--color", "never"]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    check_full_root(root.path());
    assert!(
        server.requests().iter().all(|s| s.path == "/user-data"),
        "{:?}",
        server.requests()
    );
}

/// Findings of `validate --format json` on `bytes`: (line, column, code, message).
fn findings(bytes: &[u8]) -> (i32, Vec<(u64, u64, String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user-data");
    std::fs::write(&f, bytes).unwrap();
    let out = kindling(&["validate", "--format", "json", f.to_str().unwrap()]);
    let list: Vec<serde_json::Value> = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", out.stdout, out.stderr));
    let rows = list
        .iter()
        .map(|v| {
            (
                v["line"].as_u64().unwrap(),
                v["column"].as_u64().unwrap(),
                v["code"].as_str().unwrap().to_string(),
                v["message"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (out.status, rows)
}

#[test]
fn validate_points_into_the_part_at_the_line_and_column_of_the_whole_file() {
    for args in [&[][..], &["crlf"][..]] {
        let bytes = make_mime_with(
            &serde_json::json!([
                {"type": "cloud-config", "body": "hostname: fine\n"},
                {"type": "cloud-config", "body": "write_files:\n  - path: /etc/x\n    content: x\n    permisions: '0644'\nhostname: [a, b]\n"},
            ]),
            args,
        );
        let text = String::from_utf8(bytes.clone()).unwrap();
        assert_eq!(text.contains("\r\n"), !args.is_empty());
        // Where the two mistakes are in the whole file.
        let line_of = |needle: &str| {
            let at = text.find(needle).unwrap();
            text[..at].matches('\n').count() as u64 + 1
        };
        let (status, rows) = findings(&bytes);
        assert_eq!(status, 1, "{rows:?}");
        let at = |code: &str| {
            rows.iter()
                .find(|r| r.2 == code)
                .unwrap_or_else(|| panic!("{code}: {rows:?}"))
        };
        let hit = at("kindling::structure::incorrect-type");
        assert_eq!(
            (hit.0, hit.1),
            (line_of("hostname: [a, b]"), 1),
            "{args:?} {rows:?}"
        );
        assert!(hit.3.starts_with("part 2: "), "{}", hit.3);
        let hit = at("kindling::structure::unknown-key");
        assert_eq!(
            (hit.0, hit.1),
            (line_of("permisions"), 5),
            "{args:?} {rows:?}"
        );
    }

    // The same error in a base64 part: the part's header line, the place inside it named.
    let bytes = make_mime(&serde_json::json!([
        {"type": "cloud-config", "body": "hostname: fine\n"},
        {"type": "cloud-config", "charset": "utf-8", "body": "write_files:\n  - path: /etc/x\n    content: x\nhostname: [a, b]\n"},
    ]));
    let text = String::from_utf8(bytes.clone()).unwrap();
    let second = text
        .match_indices("Content-Type: text/cloud-config")
        .nth(1)
        .unwrap()
        .0;
    let header_line = text[..second].matches('\n').count() as u64 + 1;
    let (status, rows) = findings(&bytes);
    assert_eq!(status, 1, "{rows:?}");
    let hit = rows
        .iter()
        .find(|r| r.2 == "kindling::structure::incorrect-type")
        .unwrap_or_else(|| panic!("{rows:?}"));
    assert_eq!((hit.0, hit.1), (header_line, 1), "{rows:?}");
    assert!(
        hit.3
            .contains("part 2, line 4 column 1 of its base64-decoded text")
            && hit.3.contains("header"),
        "{}",
        hit.3
    );
}

#[test]
fn two_parts_writing_one_path_are_reported_and_the_later_wins() {
    let bytes = make_mime(&serde_json::json!([
        {"type": "cloud-config", "body": "hostname: first\nwrite_files:\n  - path: /etc/motd\n    content: one\n"},
        {"type": "cloud-config", "body": "hostname: second\nwrite_files:\n  - path: /etc/motd\n    content: two\n"},
    ]));
    let (status, rows) = findings(&bytes);
    assert_eq!(status, 0, "{rows:?}");
    let conflicts: Vec<_> = rows
        .iter()
        .filter(|r| r.2 == "kindling::source::multipart-conflict")
        .map(|r| r.3.as_str())
        .collect();
    assert_eq!(conflicts.len(), 2, "{rows:?}");
    assert!(conflicts.iter().any(|m| m.contains("writes /etc/motd")));
    assert!(conflicts.iter().any(|m| m.contains("\"first\" wins")));
    // apply FILE (the compiler path) takes the same merge.
    let root = node();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user-data");
    std::fs::write(&f, &bytes).unwrap();
    let out = kindling(&[
        "apply",
        f.to_str().unwrap(),
        "--root",
        root.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(root.path(), "etc/motd"), "two");
    assert_eq!(read(root.path(), "etc/hostname"), "first\n");
}

#[test]
fn compile_and_apply_file_take_the_cloud_config_parts_and_say_the_script_is_left_out() {
    let bytes = full_user_data();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user-data");
    std::fs::write(&f, &bytes).unwrap();
    let out_dir = dir.path().join("out");
    let out = kindling(&[
        "compile",
        f.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--var",
        "private_ipv4=10.9.9.9",
        "--color",
        "never",
    ]);
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert_eq!(read(&out_dir, "etc/one"), "ip=10.9.9.9\n");
    assert!(
        out_dir.join("etc/two").exists()
            && out_dir.join("etc/systemd/system/hello.service").exists()
    );
    assert!(
        flat(&out.stderr).contains("part 4 is a #! script: only the boot-time apply"),
        "{}",
        out.stderr
    );
    assert!(!out_dir.join("var/lib/coreos-cloudinit").exists());
}

/// Each hostile file ends with `message` in standard error, exit 1 and nothing applied,
/// through the boot-time apply and through `validate`.
fn refused(bytes: &[u8], message: &str) {
    let root = node();
    let r = root.path().to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("user-data");
    std::fs::write(&f, bytes).unwrap();
    let before = snapshot(root.path());
    let started = Instant::now();
    let out = kindling(&[
        "apply",
        "--from-file",
        f.to_str().unwrap(),
        "--root",
        r,
        "--color",
        "never",
    ]);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(out.status, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        flat(&out.stderr).contains(message),
        "{message:?} not in:\n{}",
        out.stderr
    );
    assert!(
        flat(&out.stderr).contains("no part is applied"),
        "{}",
        out.stderr
    );
    // Only the metadata part may land: the COREOS_* merge of an /etc/environment that
    // already says it, so nothing at all.
    assert_eq!(snapshot(root.path()), before, "something was applied");
    let (status, rows) = findings(bytes);
    assert_eq!(status, 1, "{rows:?}");
    assert!(
        rows.iter()
            .any(|r| r.2 == "kindling::source::multipart-malformed" && r.3.contains(message)),
        "{message:?} not in {rows:?}"
    );
}

#[test]
fn a_boundary_no_part_uses_is_refused_whole() {
    let good = String::from_utf8(full_user_data()).unwrap();
    let boundary = good
        .split("boundary=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_string();
    let bad = good.replacen(&boundary, "not-the-boundary", 1);
    refused(
        bad.as_bytes(),
        "no part starts with the boundary line `--not-the-boundary`",
    );
    // A truncated download: no closing boundary.
    let cut = &good[..good.rfind(&format!("--{boundary}--")).unwrap()];
    refused(cut.as_bytes(), "ends without its closing boundary");
}

#[test]
fn a_gzip_bomb_part_stops_at_the_limit() {
    use flate2::{Compression, write::GzEncoder};
    // 1 GiB of zeros as 1024 gzip members of 1 MiB each: about a megabyte compressed.
    let mut one = GzEncoder::new(Vec::new(), Compression::best());
    one.write_all(&vec![0u8; 1024 * 1024]).unwrap();
    let one = one.finish().unwrap();
    let bomb: Vec<u8> = one.iter().copied().cycle().take(one.len() * 1024).collect();
    assert!(bomb.len() < 3 * 1024 * 1024 / 2);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bomb);
    let bytes = make_mime(&serde_json::json!([
        {"type": "cloud-config", "body": "hostname: fine\n"},
        {"gzip_b64": b64},
    ]));
    refused(&bytes, "unpacks to more than the 16 MiB");
}

#[test]
fn ten_thousand_parts_are_refused() {
    let parts: Vec<serde_json::Value> = (0..10_000)
        .map(|i| serde_json::json!({"type": "cloud-config", "body": format!("# part {i}\n")}))
        .collect();
    let bytes = make_mime(&serde_json::Value::Array(parts));
    refused(&bytes, "the user-data has more than 100 parts");
}

/// Mutated and truncated multipart user-data through `validate` and `compile` in process:
/// never a panic, every finding inside the text on a character boundary, and no plan when
/// there is an error.
#[test]
fn mutated_multipart_never_panics_and_findings_stay_in_the_text() {
    let good = full_user_data();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        seed.wrapping_mul(0x2545_F491_4F6C_DD1D)
    };
    let options = kindling::compile::Options {
        target: kindling::compile::Target::Tree,
        vars: std::collections::BTreeMap::new(),
        plan: kindling::plan::PlanOptions::default(),
    };
    let mut inputs: Vec<Vec<u8>> = (0..good.len())
        .step_by(97)
        .map(|cut| good[..cut].to_vec())
        .collect();
    const NOISE: &[u8] = b"-\n\r:;=\"\x00\xff\x1f\x8b=AZ#!{ ";
    for _ in 0..300 {
        let mut b = good.clone();
        for _ in 0..1 + next() % 4 {
            let at = (next() % b.len() as u64) as usize;
            b[at] = NOISE[(next() % NOISE.len() as u64) as usize];
        }
        inputs.push(b);
    }
    for bytes in inputs {
        let v = kindling::validate("fuzz", bytes.clone());
        let len = v.source.text.len();
        for f in &v.findings {
            assert!(f.span.start <= f.span.end && f.span.end <= len, "{f:?}");
            assert!(v.source.text.is_char_boundary(f.span.start), "{f:?}");
            for r in &f.related {
                assert!(r.span.end <= len, "{f:?}");
            }
        }
        let c = kindling::compile::compile("fuzz", bytes, &options);
        let errors = c
            .findings
            .iter()
            .any(|f| f.severity == kindling::diagnostic::Severity::Error);
        assert!(!(errors && c.plan.is_some()), "a plan despite errors");
        for f in &c.findings {
            assert!(f.span.end <= c.validation.source.text.len(), "{f:?}");
        }
    }
}
