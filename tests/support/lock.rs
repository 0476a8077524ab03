//! Real etcd and peer processes for the lock tests: Debian's `etcd` on free 127.0.0.1 ports
//! with a temp data dir and `--enable-v2=true`, Airlock and `kindling lock serve`, each
//! stopped by its own PID on drop (also when a test fails), each waited for with a bounded
//! loop.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub use super::process::{free_port, peer};

fn which(tool: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|p| p.join(tool))
                .find(|p| p.is_file())
        })
        .unwrap_or_else(|| {
            panic!("`{tool}` is not installed: scripts/test installs it (Debian package etcd-server / etcd-client)")
        })
}

/// A child process killed by its own PID on drop.
pub struct Proc {
    pub child: Child,
}

impl Proc {
    pub fn spawn(name: &str, cmd: &mut Command) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            // Not piped: a chatty child must never block on a full pipe nobody reads.
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child }
    }

    /// As [`Proc::spawn`], with stderr appended to `log` (a file, never a pipe).
    pub fn spawn_logged(name: &str, cmd: &mut Command, log: std::fs::File) -> Proc {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child }
    }

    /// SIGKILL now (the process gets no chance to clean up).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Wait (bounded) until `ready` is true; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        assert!(
            start.elapsed() < limit,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether something accepts connections on `port`.
pub fn listening(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

/// A running etcd.
pub struct Etcd {
    pub url: String,
    /// Killed by its PID when the guard drops.
    _proc: Proc,
    _dir: tempfile::TempDir,
}

impl Etcd {
    pub fn start() -> Etcd {
        Etcd::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> Etcd {
        let etcd = which("etcd");
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        // Ports can be taken between the probe and etcd's bind: try a few times.
        for _ in 0..5 {
            let (client, peer_port) = (free_port(), free_port());
            let url = format!("http://127.0.0.1:{client}");
            let data = dir.path().join("data");
            let mut proc = Proc::spawn(
                "etcd",
                etcd_command(&etcd, "kindling-test", &data, client, peer_port).args(extra),
            );
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(15) && proc.is_running() {
                if healthy(&url) {
                    return Etcd {
                        url,
                        _proc: proc,
                        _dir: dir,
                    };
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            proc.kill();
        }
        panic!("etcd did not become healthy on 127.0.0.1");
    }

    /// `etcdctl` (API 3) against this etcd.
    pub fn etcdctl(&self, args: &[&str]) -> Output {
        Command::new(which("etcdctl"))
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", self.url))
            .args(args)
            .output()
            .unwrap()
    }

    /// A v2 key's raw value.
    pub fn v2_value(&self, key: &str) -> Option<String> {
        let out = Command::new(which("etcdctl"))
            .env("ETCDCTL_API", "2")
            .arg(format!("--endpoints={}", self.url))
            .args(["get", key])
            .output()
            .unwrap();
        out.status.success().then(|| {
            String::from_utf8(out.stdout)
                .unwrap()
                .trim_end()
                .to_string()
        })
    }

    /// A v3 key's raw value.
    pub fn v3_value(&self, key: &str) -> Option<String> {
        let out = self.etcdctl(&["get", "--print-value-only", key]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout)
            .unwrap()
            .trim_end()
            .to_string();
        (!text.is_empty()).then_some(text)
    }
}

/// A one-member etcd named `name` (the program `program`) keeping its data in `data`, for
/// clients on 127.0.0.1:`client` and its peer URL on 127.0.0.1:`peer`, with the v2 API on
/// and only errors logged.
pub fn etcd_command(program: &Path, name: &str, data: &Path, client: u16, peer: u16) -> Command {
    let url = format!("http://127.0.0.1:{client}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut cmd = Command::new(program);
    cmd.arg(format!("--name={name}"))
        .arg(format!("--data-dir={}", data.display()))
        .arg(format!("--listen-client-urls={url}"))
        .arg(format!("--advertise-client-urls={url}"))
        .arg(format!("--listen-peer-urls={peer_url}"))
        .arg(format!("--initial-advertise-peer-urls={peer_url}"))
        .arg(format!("--initial-cluster={name}={peer_url}"))
        .arg("--enable-v2=true")
        .arg("--log-level=error");
    cmd
}

/// Whether the etcd at `url` answers `etcdctl endpoint health`.
pub fn healthy(url: &str) -> bool {
    // Only ask etcdctl once something listens: a process per probe costs more than a connect.
    if std::net::TcpStream::connect(url.trim_start_matches("http://")).is_err() {
        return false;
    }
    Command::new(which("etcdctl"))
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={url}"))
        .args(["endpoint", "health", "--command-timeout=1s"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `kindling` with `args`.
pub fn kindling(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kindling"))
        .args(args)
        .output()
        .unwrap()
}

/// A directory with `etc/machine-id` holding `id`.
pub fn machine_root(id: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/machine-id"), format!("{id}\n")).unwrap();
    dir
}

/// kindling under the name `locksmithctl` (a symlink in a temp dir).
pub fn kindling_as_locksmithctl(dir: &Path) -> PathBuf {
    let link = dir.join("locksmithctl");
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_kindling"), &link).unwrap();
    link
}

/// A tokio runtime for the async library API.
pub fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Every value the v3 key ever had (from etcd's history, oldest first), through a watch
/// from revision 1, read until it has seen the current value.
pub fn v3_history(etcd: &Etcd, key: &str) -> Vec<String> {
    v3_history_at(&etcd.url, key)
}

/// [`v3_history`] of the etcd at `url` (for guards other than [`Etcd`]).
pub fn v3_history_at(url: &str, key: &str) -> Vec<String> {
    v3_events(url, key, false, Duration::from_secs(20))
        .into_iter()
        .map(|(_, _, value)| value.unwrap_or_default())
        .collect()
}

/// Every change of `key` (with `prefix`, of every key under it) in the history of the etcd
/// at `url`, oldest first: (revision, key, value; None for a delete), read by a watch from
/// revision 1 until it has seen the newest revision there is now, within `limit`.
pub fn v3_events(
    url: &str,
    key: &str,
    prefix: bool,
    limit: Duration,
) -> Vec<(i64, String, Option<String>)> {
    rt().block_on(async {
        let mut client = etcd_client::Client::connect([url], None).await.unwrap();
        let get = prefix.then(|| etcd_client::GetOptions::new().with_prefix());
        let now = client.get(key, get).await.unwrap();
        let last = now
            .kvs()
            .iter()
            .map(etcd_client::KeyValue::mod_revision)
            .max()
            .unwrap_or(0);
        let mut out = Vec::new();
        if last == 0 {
            return out;
        }
        let mut watch = etcd_client::WatchOptions::new().with_start_revision(1);
        if prefix {
            watch = watch.with_prefix();
        }
        let mut stream = client.watch(key, Some(watch)).await.unwrap();
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let msg = tokio::time::timeout_at(deadline, stream.message())
                .await
                .expect("etcd history read timed out")
                .unwrap()
                .unwrap();
            for event in msg.events() {
                let Some(kv) = event.kv() else { continue };
                let value = match event.event_type() {
                    etcd_client::EventType::Put => {
                        Some(String::from_utf8_lossy(kv.value()).into_owned())
                    }
                    etcd_client::EventType::Delete => None,
                };
                out.push((
                    kv.mod_revision(),
                    String::from_utf8_lossy(kv.key()).into_owned(),
                    value,
                ));
                if kv.mod_revision() >= last {
                    return out;
                }
            }
        }
    })
}
