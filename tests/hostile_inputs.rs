//! Hostile inputs (issue 19): template expressions too long to parse safely, includes that
//! leave the template's directory, a runaway template over a whole inventory, hostnames
//! from user-data and datasources, FIFOs and symlinks where user-data is read, and payload
//! URLs at addresses a node must not fetch from. Each case ran into a crash, a hang or a
//! silent acceptance before; each is bounded in time here.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::common::Run;

const HEADER: &str = "## template: jinja\n#cloud-config\n";

/// The binary run in `dir` with `args`, killed (by its own PID) when it runs past `limit`:
/// `None` for the status when it had to be killed.
fn run_within(dir: &Path, args: &[&str], limit: Duration) -> (Option<i32>, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    let mut stderr = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .unwrap();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    (status, stdout, stderr)
}

/// `text` with its lines joined and the report's margins left out, for finding a message
/// that wraps.
fn flat(text: &str) -> String {
    text.split_whitespace()
        .filter(|w| *w != "│")
        .collect::<Vec<_>>()
        .join(" ")
}

fn mkfifo(path: &Path) {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
}

/// Expressions that overflowed the stack (SIGABRT, status 134) in render, validate and
/// apply, and a `~` chain that took 11 s.
fn chains() -> Vec<(&'static str, String)> {
    vec![
        ("unary minus", "-".repeat(19_296) + "1"),
        ("attributes", format!("x{}", ".a".repeat(40_000))),
        ("additions", format!("1{}", " + 1".repeat(26_000))),
        ("filters", format!("'a'{}", "|lower".repeat(50_000))),
        ("concatenations", format!("'a'{}", " ~ 'a'".repeat(20_000))),
    ]
}

#[test]
fn long_expression_chains_are_a_finding_not_a_crash() {
    for (what, chain) in chains() {
        let text = format!("{HEADER}hostname: \"{{{{ {chain} }}}}\"\n");
        for args in [
            &["render", "--color", "never", "t.yaml.j2"][..],
            &["validate", "--color", "never", "t.yaml.j2"][..],
            &["apply", "--color", "never", "--root", "root", "t.yaml.j2"][..],
        ] {
            let start = Instant::now();
            let run = Run::new(args).file("t.yaml.j2", text.as_str());
            std::fs::create_dir(run.dir.path().join("root")).unwrap();
            let out = run.run();
            let all = format!("{}{}", out.stdout, out.stderr);
            assert_eq!(
                out.status,
                1,
                "{what} {args:?}: {}",
                &all[..all.len().min(2000)]
            );
            assert!(
                all.contains("kindling::template::limits"),
                "{what} {args:?}"
            );
            assert!(all.contains("more than 250 operators"), "{what} {args:?}");
            assert!(all.contains("t.yaml.j2:3:12"), "{what} {args:?}");
            assert!(start.elapsed() < Duration::from_secs(10), "{what} {args:?}");
        }
    }
}

#[test]
fn long_chains_in_an_included_template_are_refused_too() {
    let chain = "-".repeat(19_296) + "1";
    let out = Run::new(&["render", "--color", "never", "t.yaml.j2"])
        .file(
            "t.yaml.j2",
            format!("{HEADER}{{% include \"part.j2\" %}}\n"),
        )
        .file("part.j2", format!("ok\nhostname: \"{{{{ {chain} }}}}\"\n"))
        .run();
    assert_eq!(out.status, 1, "{}{}", out.stdout, out.stderr);
    assert!(
        flat(&out.stderr).contains("part.j2, line 2: a tag holds more than 250 operators"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_chain_at_the_limit_still_renders() {
    let chain = format!("1{}", " + 1".repeat(250));
    let out = Run::new(&["render", "t.yaml.j2"])
        .file(
            "t.yaml.j2",
            format!("{HEADER}hostname: \"n{{{{ {chain} }}}}\"\n"),
        )
        .run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("hostname: \"n251\""), "{}", out.stdout);
}

#[test]
fn a_runaway_template_stops_once_for_the_whole_inventory() {
    let inventory: String = std::iter::once("name\n".to_string())
        .chain((0..1000).map(|i| format!("node-{i:04}\n")))
        .collect();
    let start = Instant::now();
    let out = Run::new(&[
        "validate",
        "--format",
        "json",
        "t.yaml.j2",
        "--inventory",
        "fleet.csv",
    ])
    .file(
        "t.yaml.j2",
        format!(
            "{HEADER}hostname: {{{{ name }}}}\n{{% for i in range(100000) %}}{{% for j in range(100000) %}}#{{% endfor %}}{{% endfor %}}\n"
        ),
    )
    .file("fleet.csv", inventory)
    .run();
    let took = start.elapsed();
    assert_eq!(out.status, 1, "{}", out.stderr);
    let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let findings = json.as_array().unwrap();
    let ran_out = findings
        .iter()
        .find(|f| {
            f["message"]
                .as_str()
                .unwrap()
                .starts_with("the render ran out of fuel")
        })
        .expect("the first render's finding");
    let stopped = findings
        .iter()
        .find(|f| f["message"].as_str().unwrap().starts_with("not rendered"))
        .expect("the other nodes' finding");
    // Only the renders already running when the first one ran out (one per thread) ran out
    // of fuel; every other node was not rendered at all.
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let ran = ran_out["nodes"].as_array().unwrap().len();
    assert!(ran >= 1 && ran <= threads, "{ran_out}");
    assert_eq!(
        ran + stopped["nodes"].as_array().unwrap().len(),
        1000,
        "{stopped}"
    );
    // Two renders' worth of fuel, not a thousand (19 s before).
    assert!(took < Duration::from_secs(10), "took {took:?}");
}

#[test]
fn includes_do_not_leave_the_template_directory_through_links() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret"), "hostname: the-secret\n").unwrap();
    std::fs::create_dir(outside.path().join("d")).unwrap();
    std::fs::write(outside.path().join("d/part.j2"), "hostname: the-secret\n").unwrap();
    for (name, link_name, target) in [
        ("a link to a file", "part.j2", outside.path().join("secret")),
        ("a link to a directory", "sub", outside.path().join("d")),
    ] {
        let include = if link_name == "sub" {
            "sub/part.j2"
        } else {
            "part.j2"
        };
        let run = Run::new(&["render", "--color", "never", "t.yaml.j2"]).file(
            "t.yaml.j2",
            format!("{HEADER}{{% include \"{include}\" %}}\n"),
        );
        std::os::unix::fs::symlink(&target, run.dir.path().join(link_name)).unwrap();
        let out = run.run();
        assert_eq!(out.status, 1, "{name}: {}{}", out.stdout, out.stderr);
        assert!(!out.stdout.contains("the-secret"), "{name}: {}", out.stdout);
        assert!(
            flat(&out.stderr).contains(&format!(
                "{include} leads outside the template's directory through a symbolic link"
            )),
            "{name}: {}",
            out.stderr
        );
    }
    // A link that stays inside the directory is followed.
    let run = Run::new(&["render", "t.yaml.j2"])
        .file(
            "t.yaml.j2",
            format!("{HEADER}{{% include \"part.j2\" %}}\n"),
        )
        .file("real.j2", "hostname: inside\n");
    std::os::unix::fs::symlink("real.j2", run.dir.path().join("part.j2")).unwrap();
    let out = run.run();
    assert_eq!(out.status, 0, "{}", out.stderr);
    assert!(out.stdout.contains("hostname: inside"), "{}", out.stdout);
}

#[test]
fn an_included_fifo_is_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("t.yaml.j2"),
        format!("{HEADER}{{% include \"part.j2\" %}}\n"),
    )
    .unwrap();
    mkfifo(&dir.path().join("part.j2"));
    let (status, _, stderr) = run_within(
        dir.path(),
        &["render", "--color", "never", "t.yaml.j2"],
        Duration::from_secs(20),
    );
    assert_eq!(status, Some(1), "{stderr}");
    assert!(
        stderr.contains("is not a regular file (a FIFO)"),
        "{stderr}"
    );
}

#[test]
fn validate_reports_a_hostname_that_is_not_one() {
    for (name, why) in [
        ("../../etc/x", "'/' is not allowed"),
        ("a/b", "'/' is not allowed"),
        ("web_01", "'_' is not allowed"),
        ("-node", "starts or ends with `-`"),
        ("a..b", "an empty label"),
    ] {
        let out = Run::new(&["validate", "--format", "json", "c.yaml"])
            .file("c.yaml", format!("#cloud-config\nhostname: \"{name}\"\n"))
            .run();
        assert_eq!(out.status, 1, "{name}: {}", out.stdout);
        let json: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
        let f = &json[0];
        assert_eq!(f["code"], "kindling::hostname::invalid", "{name}: {f}");
        assert_eq!(
            (f["line"].as_u64(), f["column"].as_u64()),
            (Some(2), Some(11))
        );
        assert!(f["message"].as_str().unwrap().contains(why), "{name}: {f}");
    }
    let out = Run::new(&["validate", "c.yaml"])
        .file("c.yaml", "#cloud-config\nhostname: node-1.example.com\n")
        .run();
    assert_eq!(out.status, 0, "{}", out.stdout);
}

/// A config drive at `dir` with `user_data`, and `meta_data.json` naming `hostname`.
fn drive(dir: &Path, user_data: &str, hostname: &str) {
    let os = dir.join("openstack");
    std::fs::create_dir_all(os.join("latest")).unwrap();
    std::fs::write(os.join("latest/user_data"), user_data).unwrap();
    std::fs::write(
        os.join("latest/meta_data.json"),
        serde_json::json!({ "hostname": hostname }).to_string(),
    )
    .unwrap();
}

/// `kindling apply` from a datasource onto a fresh root, bounded at 30 s.
fn apply_from(source: &[&str], root: &Path) -> (Option<i32>, String, String) {
    let r = root.to_str().unwrap();
    let mut args = vec!["apply", "--color", "never", "--timeout", "10", "--root", r];
    args.extend_from_slice(source);
    run_within(root, &args, Duration::from_secs(30))
}

#[test]
fn a_metadata_hostname_that_is_not_one_is_not_set() {
    for bad in ["../../x", "a/b", "x\u{fffd}y", "a b"] {
        let drive_dir = tempfile::tempdir().unwrap();
        drive(drive_dir.path(), "#cloud-config\n", bad);
        let root = tempfile::tempdir().unwrap();
        let d = drive_dir.path().to_str().unwrap();
        let (status, _, stderr) = apply_from(&["--from-configdrive", d], root.path());
        assert_eq!(status, Some(1), "{bad:?}: {stderr}");
        assert!(
            stderr.contains("kindling::hostname::invalid: the metadata hostname"),
            "{bad:?}: {stderr}"
        );
        assert!(!root.path().join("etc/hostname").exists(), "{bad:?}");
    }
    // A good one is still set.
    let drive_dir = tempfile::tempdir().unwrap();
    drive(drive_dir.path(), "#cloud-config\n", "node-7");
    let root = tempfile::tempdir().unwrap();
    let d = drive_dir.path().to_str().unwrap();
    let (status, _, stderr) = apply_from(&["--from-configdrive", d], root.path());
    assert_eq!(status, Some(0), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(root.path().join("etc/hostname")).unwrap(),
        "node-7\n"
    );
}

#[test]
fn fifos_as_user_data_are_refused_before_the_timeout() {
    // --from-file
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("user_data");
    mkfifo(&fifo);
    let root = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let (status, _, stderr) = apply_from(&["--from-file", fifo.to_str().unwrap()], root.path());
    assert_eq!(status, Some(1), "--from-file: {stderr}");
    assert!(
        stderr.contains("is not a regular file (a FIFO)"),
        "{stderr}"
    );
    // A config drive's user_data.
    let drive_dir = tempfile::tempdir().unwrap();
    drive(drive_dir.path(), "", "node-1");
    let user_data = drive_dir.path().join("openstack/latest/user_data");
    std::fs::remove_file(&user_data).unwrap();
    mkfifo(&user_data);
    let d = drive_dir.path().to_str().unwrap();
    let (status, _, stderr) = apply_from(&["--from-configdrive", d], root.path());
    assert_eq!(status, Some(1), "config drive: {stderr}");
    assert!(
        stderr.contains("is not a regular file (a FIFO)"),
        "{stderr}"
    );
    // waagent's CustomData.
    let agent = tempfile::tempdir().unwrap();
    std::fs::write(agent.path().join("provisioned"), "").unwrap();
    mkfifo(&agent.path().join("CustomData"));
    let a = agent.path().to_str().unwrap();
    let (status, _, stderr) = apply_from(&["--from-waagent", a], root.path());
    assert_eq!(status, Some(1), "waagent: {stderr}");
    assert!(
        stderr.contains("is not a regular file (a FIFO)"),
        "{stderr}"
    );
    // Refused at once, not at the 10 s deadline.
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn config_drive_files_do_not_leave_the_drive_through_links() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("secret"),
        "#cloud-config\nhostname: stolen\n",
    )
    .unwrap();
    // The network config's content_path, a link off the drive.
    let drive_dir = tempfile::tempdir().unwrap();
    drive(drive_dir.path(), "#cloud-config\n", "node-1");
    let os = drive_dir.path().join("openstack");
    std::fs::write(
        os.join("latest/meta_data.json"),
        r#"{"hostname":"node-1","network_config":{"content_path":"/content/0000"}}"#,
    )
    .unwrap();
    std::fs::create_dir(os.join("content")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), os.join("content/0000")).unwrap();
    let root = tempfile::tempdir().unwrap();
    let d = drive_dir.path().to_str().unwrap();
    let (status, _, stderr) = apply_from(
        &["--from-configdrive", d, "--convert-netconf", "debian"],
        root.path(),
    );
    assert_ne!(status, Some(0), "{stderr}");
    assert!(status.is_some(), "it hung");
    assert!(
        stderr.contains("content/0000 leads outside") && stderr.contains("through a symbolic link"),
        "{stderr}"
    );
    // The user-data itself, a link off the drive.
    let drive_dir = tempfile::tempdir().unwrap();
    drive(drive_dir.path(), "", "node-1");
    let user_data = drive_dir.path().join("openstack/latest/user_data");
    std::fs::remove_file(&user_data).unwrap();
    std::os::unix::fs::symlink(outside.path().join("secret"), &user_data).unwrap();
    let root = tempfile::tempdir().unwrap();
    let d = drive_dir.path().to_str().unwrap();
    let (status, _, stderr) = apply_from(&["--from-configdrive", d], root.path());
    assert_eq!(status, Some(1), "{stderr}");
    assert!(stderr.contains("user_data leads outside"), "{stderr}");
    // The metadata part is applied; nothing of the file off the drive is.
    let hostname = std::fs::read_to_string(root.path().join("etc/hostname")).unwrap_or_default();
    assert!(!hostname.contains("stolen"), "{hostname}");
}

#[test]
fn coreos_cloudinit_refuses_an_argument_that_is_not_utf8() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("coreos-cloudinit");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kindling"), &link).unwrap();
    let out = Command::new(&link)
        .arg("-from-file")
        .arg(std::ffi::OsStr::from_bytes(b"/tmp/\xff\xfe"))
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // A usage error (2), not a panic (101).
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("argument 2 (/tmp/\u{fffd}\u{fffd}) is not valid UTF-8"),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_payload_at_a_link_local_address_is_refused_before_any_connection() {
    // Every proxy variable points at a listener on loopback: if kindling tried the URL at
    // all, the attempt would arrive here (and nothing leaves the machine).
    let guard = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    guard.set_nonblocking(true).unwrap();
    let proxy = format!("http://{}", guard.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img"), vec![0u8; 65536]).unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    for url in [
        "http://169.254.169.254/latest/meta-data/p.raw",
        "http://[fe80::1]/p.raw",
        "http://224.0.0.1/p.raw",
        "http://0.0.0.0/p.raw",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(["payload", "fetch", "--url", url, "--size", "10"])
            .args(["--sha256", "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="])
            .args(["--image", "img", "--len", "65536", "--root", "root"])
            .current_dir(dir.path())
            .env("HTTP_PROXY", &proxy)
            .env("HTTPS_PROXY", &proxy)
            .env("ALL_PROXY", &proxy)
            .env("http_proxy", &proxy)
            .env("https_proxy", &proxy)
            .env("all_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{url}: {stderr}");
        assert!(
            stderr.contains("address; kindling fetches payloads and signatures only"),
            "{url}: {stderr}"
        );
        assert!(
            matches!(guard.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
            "{url}: kindling tried to fetch it"
        );
    }
}

#[test]
fn a_redirect_to_a_link_local_address_is_refused_before_any_connection() {
    use std::io::Write as _;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    // A loopback server that answers every request with a redirect to the metadata address.
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&asked);
    let server = crate::support::process::LoopbackServer::start(move |mut conn, _| {
        conn.set_read_timeout(Some(Duration::from_secs(5))).ok();
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
            match conn.read(&mut byte) {
                Ok(1) => head.push(byte[0]),
                _ => return,
            }
        }
        counted.fetch_add(1, Ordering::SeqCst);
        let _ = conn.write_all(
            b"HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/latest/meta-data/p.raw\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    // Every proxy variable points at a listener on loopback, and only the redirecting
    // server is reached directly: a followed redirect would arrive at the listener (and
    // nothing leaves the machine).
    let guard = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    guard.set_nonblocking(true).unwrap();
    let proxy = format!("http://{}", guard.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("img"), vec![0u8; 65536]).unwrap();
    std::fs::create_dir(dir.path().join("root")).unwrap();
    let url = format!("http://{}/p.raw", server.addr());
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(["payload", "fetch", "--url", &url, "--size", "10"])
        .args(["--sha256", "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE="])
        .args(["--image", "img", "--len", "65536", "--root", "root"])
        // Bounded even if the redirect were followed into the silent listener.
        .args(["--stall-timeout", "2"])
        .current_dir(dir.path())
        .env("HTTP_PROXY", &proxy)
        .env("HTTPS_PROXY", &proxy)
        .env("ALL_PROXY", &proxy)
        .env("http_proxy", &proxy)
        .env("https_proxy", &proxy)
        .env("all_proxy", &proxy)
        .env("NO_PROXY", "127.0.0.1")
        .env_remove("no_proxy")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "{stderr}");
    assert!(
        asked.load(Ordering::SeqCst) >= 1,
        "the server was never asked: {stderr}"
    );
    assert!(
        stderr.contains(
            "\"http://169.254.169.254/latest/meta-data/p.raw\" is at a link-local address"
        ),
        "{stderr}"
    );
    assert!(
        matches!(guard.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "kindling followed the redirect: {stderr}"
    );
}
