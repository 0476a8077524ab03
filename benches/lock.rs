//! The reboot lock under contention: N contenders (default 100) each take one of 3 slots,
//! hold it 1 s (a simulated reboot) and give it back, on a real etcd (Debian's, started here
//! on free loopback ports with a temp data dir, killed by its PID at the end). Measured: the
//! makespan against the ideal ceil(N/3) x 1 s, for
//!   - etcd v2 (locksmith's key) waiting by watch (`wait=true`),
//!   - etcd v3 waiting by watch,
//!   - locksmith's loop on the same v2 backend: try, and on failure back off 5 s doubling to
//!     5 min (locksmithd's `reboot()`), the anchor.
//!
//! `cargo bench --bench lock -- [N] [--no-polling]`; each mode stops after 30 minutes.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kindling::lock::{Backend, LockConfig, RebootLock};

struct Etcd {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn etcd() -> Etcd {
    let dir = tempfile::tempdir().unwrap();
    let (c, p) = (port(), port());
    let url = format!("http://127.0.0.1:{c}");
    let peer = format!("http://127.0.0.1:{p}");
    let child = Command::new("etcd")
        .arg("--name=bench")
        .arg(format!("--data-dir={}", dir.path().join("d").display()))
        .arg(format!("--listen-client-urls={url}"))
        .arg(format!("--advertise-client-urls={url}"))
        .arg(format!("--listen-peer-urls={peer}"))
        .arg(format!("--initial-advertise-peer-urls={peer}"))
        .arg(format!("--initial-cluster=bench={peer}"))
        .arg("--enable-v2=true")
        .arg("--log-level=error")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("etcd (Debian package etcd-server) is needed");
    let etcd = Etcd {
        child,
        url,
        _dir: dir,
    };
    for _ in 0..200 {
        let ok = Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .arg(format!("--endpoints={}", etcd.url))
            .args(["endpoint", "health", "--command-timeout=1s"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return etcd;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("etcd did not become healthy");
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mode {
    Watch(Backend),
    Polling,
}

/// The makespan, and how many contenders finished within `cap` (all, unless the cap hit).
async fn run(url: &str, mode: Mode, n: usize, group: &str, cap: Duration) -> (Duration, usize) {
    let backend = match mode {
        Mode::Watch(b) => b,
        Mode::Polling => Backend::Etcd2,
    };
    let config = LockConfig {
        backend,
        endpoints: vec![url.to_string()],
        group: group.to_string(),
        ..LockConfig::default()
    };
    let admin = kindling::lock::connect(&config).await.unwrap();
    admin.set_max(3).await.unwrap();
    let start = Instant::now();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..n {
        let lock: Box<dyn RebootLock> = kindling::lock::connect(&config).await.unwrap();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let id = format!("node-{i:03}");
            match mode {
                Mode::Watch(_) => {
                    let deadline = tokio::time::Instant::now() + Duration::from_secs(3600);
                    lock.wait_lock(&id, deadline).await.unwrap();
                }
                Mode::Polling => {
                    // locksmithd's reboot(): Lock(), on failure sleep 5 s doubling to 5 min.
                    let mut pause = Duration::from_secs(5);
                    while lock.lock(&id).await.is_err() {
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(300));
                    }
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            lock.unlock(&id).await.unwrap();
            done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }));
    }
    let deadline = tokio::time::Instant::now() + cap;
    for t in &mut tasks {
        if tokio::time::timeout_at(deadline, t).await.is_err() {
            break;
        }
    }
    for t in &tasks {
        t.abort();
    }
    (
        start.elapsed(),
        done.load(std::sync::atomic::Ordering::SeqCst),
    )
}

fn main() {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let n: usize = args.iter().find_map(|a| a.parse().ok()).unwrap_or(100);
    let polling = !args.iter().any(|a| a == "--no-polling");
    // locksmith's backoff can take many times the ideal; stop measuring after this.
    let cap = Duration::from_secs(1800);
    let etcd = etcd();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let ideal = n.div_ceil(3);
    println!("{n} contenders, 3 slots, 1 s hold; ideal makespan {ideal} s");
    let mut modes = vec![
        ("etcd v2, watch", Mode::Watch(Backend::Etcd2), "v2watch"),
        ("etcd v3, watch", Mode::Watch(Backend::Etcd3), "v3watch"),
    ];
    if polling {
        modes.push((
            "etcd v2, locksmith's polling backoff",
            Mode::Polling,
            "v2poll",
        ));
    }
    for (name, mode, group) in modes {
        let (took, done) = rt.block_on(run(&etcd.url, mode, n, group, cap));
        #[allow(clippy::cast_precision_loss)]
        let ratio = took.as_secs_f64() / ideal as f64;
        if done == n {
            println!(
                "{name:<40} makespan {:>7.1} s  = {ratio:.2} x ideal",
                took.as_secs_f64()
            );
        } else {
            println!(
                "{name:<40} only {done} of {n} done after {:.0} s (> {ratio:.1} x ideal)",
                took.as_secs_f64()
            );
        }
    }
}
