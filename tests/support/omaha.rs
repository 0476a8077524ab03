//! Support for the Omaha tests: peer binaries, processes stopped by their own PID when the
//! guard drops (also when a test fails), kindling's server on a free loopback port, real
//! payloads (squashfs images) signed with Debian's minisign.

use std::io::{BufRead, BufReader};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use sha2::Digest as _;

pub use super::process::{Guard, free_port, peer};
use super::process::{publish_args, status_json_args};

/// CoreOS's app id.
pub const APP_ID: &str = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}";

/// A tool on PATH, or a clear failure.
pub fn tool(name: &str) -> &str {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    assert!(
        found,
        "{name} is not installed: scripts/test installs it (apt-get install squashfs-tools minisign)"
    );
    name
}

fn wait_for_port(port: u16, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the server exited before listening: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("nothing listens on 127.0.0.1:{port} after 10 s");
}

/// go-omaha's TrivialServer serving `payload` as `version`; returns the guard and its URL.
pub fn trivial_server(payload: &Path, version: &str, extra: &[&str]) -> (Guard, String) {
    let port = free_port();
    let mut child = Command::new(peer("omaha-trivial-server"))
        .args(["-addr", &format!("127.0.0.1:{port}")])
        .arg("-payload")
        .arg(payload)
        .args(["-version", version])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_for_port(port, &mut child);
    (Guard(child), format!("http://127.0.0.1:{port}"))
}

/// kindling's server on `dir` on a free port; returns the guard and its base URL.
pub fn kindling_server(dir: &Path, extra: &[&str]) -> (Guard, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .arg("update-server")
        .arg("--dir")
        .arg(dir)
        .args(["--listen", "127.0.0.1:0", "--flush-interval-ms", "50"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let guard = Guard(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("kindling update-server printed no address within 10 s");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    (guard, url)
}

/// Run kindling with `args`; (status, stdout, stderr).
pub fn kindling(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A real payload: a squashfs image of a small tree (`tag` makes each one different).
pub fn squashfs(dir: &Path, name: &str, tag: &str) -> PathBuf {
    let tree = dir.join(format!("tree-{name}"));
    std::fs::create_dir_all(tree.join("bin")).unwrap();
    std::fs::write(tree.join("os-release"), format!("VERSION={tag}\n")).unwrap();
    std::fs::write(tree.join("bin/tool"), tag.repeat(2000)).unwrap();
    let image = dir.join(name);
    let status = Command::new(tool("mksquashfs"))
        .arg(&tree)
        .arg(&image)
        .args([
            "-noappend",
            "-quiet",
            "-no-progress",
            "-mkfs-time",
            "0",
            "-all-time",
            "0",
        ])
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "mksquashfs failed");
    image
}

/// A minisign key pair in `dir` (no password): (public key, secret key).
pub fn minisign_keys(dir: &Path) -> (PathBuf, PathBuf) {
    let public = dir.join("key.pub");
    let secret = dir.join("key.sec");
    let status = Command::new(tool("minisign"))
        .args(["-G", "-W", "-p"])
        .arg(&public)
        .arg("-s")
        .arg(&secret)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "minisign -G failed");
    (public, secret)
}

/// Sign `file` with `secret`; returns FILE.minisig.
pub fn minisign_sign(secret: &Path, file: &Path) -> PathBuf {
    let status = Command::new(tool("minisign"))
        .arg("-S")
        .arg("-s")
        .arg(secret)
        .arg("-m")
        .arg(file)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "minisign -S failed");
    PathBuf::from(format!("{}.minisig", file.display()))
}

/// Whether `minisign -V` accepts `sig` for `file` under `public`.
pub fn minisign_verify(public: &Path, file: &Path, sig: &Path) -> bool {
    Command::new(tool("minisign"))
        .arg("-V")
        .arg("-p")
        .arg(public)
        .arg("-m")
        .arg(file)
        .arg("-x")
        .arg(sig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// SHA-256 of a file.
pub fn sha256(path: &Path) -> [u8; 32] {
    sha2::Sha256::digest(std::fs::read(path).unwrap()).into()
}

/// A server directory with `releases` = [(channel, version)] published from real,
/// signed payloads; returns the temp dir (holding `srv/`), the public key.
pub fn published(releases: &[(&str, &str)]) -> (tempfile::TempDir, PathBuf) {
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (public, secret) = minisign_keys(tmp.path());
    for (channel, version) in releases {
        let work = tmp.path().join(format!("w-{channel}-{version}"));
        std::fs::create_dir_all(&work).unwrap();
        let payload = squashfs(&work, "update.gz", &format!("{channel}-{version}"));
        let sig = minisign_sign(&secret, &payload);
        let srv = tmp.path().join("srv");
        let (code, _, err) = kindling(&publish_args(&srv, channel, version, &payload, &sig));
        assert_eq!(code, 0, "publish failed: {err}");
    }
    (tmp, public)
}

/// [`published`] `releases`, then [`kindling_server`] on the store (with `extra` flags):
/// the temp dir, the store, the server's guard and URL.
pub fn start_published(
    releases: &[(&str, &str)],
    extra: &[&str],
) -> (tempfile::TempDir, PathBuf, Guard, String) {
    let (tmp, _) = published(releases);
    let srv = tmp.path().join("srv");
    let (guard, url) = kindling_server(&srv, extra);
    (tmp, srv, guard, url)
}

/// POST `body` to `url` with `content_type`; (status, body).
pub async fn post(url: &str, content_type: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap())
}

/// Poll `status --format json` until `pred` holds (bounded), returning the JSON.
pub fn status_until(dir: &Path, pred: impl Fn(&serde_json::Value) -> bool) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (code, out, err) = kindling(&status_json_args(dir));
        assert_eq!(code, 0, "status failed: {err}");
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        if pred(&json) {
            return json;
        }
        assert!(
            Instant::now() < deadline,
            "the status never matched within 10 s: {json:#}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The instance `machine` of a status JSON.
pub fn instance<'a>(json: &'a serde_json::Value, machine: &str) -> Option<&'a serde_json::Value> {
    json["instances"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["machine_id"] == machine)
}
