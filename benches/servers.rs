//! `cargo bench --bench servers`: both servers (the real release binary, default limits)
//! under hostile clients, at full size, on loopback (issue 19).
//!
//! 1. Bounded servers: 20,000 idle connections and 500 slowloris connections (a request head
//!    dripped one header line a second) held open by two helper processes (this binary
//!    again, 10,250 connections each, so each stays under its descriptor limit) against
//!    `update-server`, then against `lock serve` on a real etcd; meanwhile 20 normal update
//!    checks / 20 FleetLock pre-reboot + steady-state pairs, each on a fresh connection,
//!    timed (goal: each within 1 s). The server's descriptors and peak RSS are reported.
//! 2. Records: 100,000 machines recorded (32 keep-alive clients), then update checks over
//!    them for 10 s (goal >= 5,000/s); server peak RSS (goal <= 200 MB); then
//!    `update-server status --format json` timed with its peak RSS (goal <= 1 s, <= 200 MB);
//!    then a client spraying 20,000 new machine ids, and the record count after (the cap).
//!
//! The load generator shares the 2 cores with the server, so rates are floors.

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const IDLE: usize = 20_000;
const SLOW: usize = 500;
const HELPERS: usize = 2;
const MACHINES: usize = 100_000;
const CONCURRENCY: usize = 32;
const CHECK_SECONDS: u64 = 10;
const SPRAY: usize = 20_000;
const APP_ID: &str = "{e96281a6-d1af-4bde-9a0a-97b76e56dc57}";

fn request(machine: &str, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
    <os version="Chateau" platform="CoreOS" sp="{version}_x86_64"></os>
    <app appid="{APP_ID}" version="{version}" track="stable" bootid="{{7d52a1cc-7066-40f0-91c7-7cb6a871bfde}}" oem="" oemversion="" alephversion="{version}" machineid="{machine}" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
        <ping active="1"></ping>
        <updatecheck></updatecheck>
    </app>
</request>
"#
    )
}

fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn fds(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn raise_fd_limit() {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).unwrap();
}

/// Helper mode: hold `idle` + `slow` connections to `addr`, print `ready`, drip the slow
/// ones' heads once a second (reconnecting those the server closed), exit on stdin's EOF.
fn hold(addr: &str, idle: usize, slow: usize) {
    raise_fd_limit();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        use tokio::io::AsyncWriteExt as _;
        let mut held = Vec::new();
        let mut refused = 0;
        for n in 0..idle + slow {
            match tokio::net::TcpStream::connect(addr).await {
                Ok(mut s) => {
                    if n >= idle {
                        let _ = s
                            .write_all(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\n")
                            .await;
                    }
                    held.push(s);
                }
                Err(_) => refused += 1,
            }
        }
        println!("ready {} {refused}", held.len());
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        std::thread::spawn(move || {
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop2.store(true, Ordering::Relaxed);
        });
        while !stop.load(Ordering::Relaxed) {
            for slot in held.iter_mut().skip(idle) {
                if slot.write_all(b"X-a: b\r\n").await.is_err()
                    && let Ok(mut s) = tokio::net::TcpStream::connect(addr).await
                {
                    // Closed by the header timeout: a new slowloris in its place.
                    let _ = s
                        .write_all(b"POST /v1/update/ HTTP/1.1\r\nHost: x\r\n")
                        .await;
                    *slot = s;
                }
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
}

fn helpers(addr: &str) -> Vec<Killed> {
    let exe = std::env::current_exe().unwrap();
    let mut out = Vec::new();
    let mut opened = 0;
    for _ in 0..HELPERS {
        let mut child = Command::new(&exe)
            .env(
                "SERVERS_BENCH_HOLD",
                format!("{addr},{},{}", IDLE / HELPERS, SLOW / HELPERS),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let n: usize = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        opened += n;
        out.push(Killed(child));
    }
    println!("  {opened} connections opened ({IDLE} idle + {SLOW} slowloris asked)");
    out
}

fn summary(what: &str, mut times: Vec<Duration>) {
    times.sort();
    println!(
        "  {what}: {} on fresh connections, p50 {:.1} ms, max {:.1} ms (goal: each <= 1000 ms)",
        times.len(),
        times[times.len() / 2].as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
}

fn publish(exe: &str, dir: &std::path::Path) {
    let payload = dir.join("payload.bin");
    std::fs::write(&payload, vec![7u8; 4096]).unwrap();
    let sig = dir.join("payload.minisig");
    let b64 = |b: &[u8]| {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(b)
    };
    let mut first = b"ED".to_vec();
    first.extend([7u8; 72]);
    std::fs::write(
        &sig,
        format!(
            "untrusted comment: bench\n{}\ntrusted comment: bench\n{}\n",
            b64(&first),
            b64(&[1u8; 64])
        ),
    )
    .unwrap();
    let out = Command::new(exe)
        .args(["update-server", "publish", "--dir"])
        .arg(dir.join("srv"))
        .args(["--channel", "stable", "--version", "2.0.0", "--payload"])
        .arg(&payload)
        .arg("--signature")
        .arg(&sig)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn update_server(exe: &str, dir: &std::path::Path, extra: &[&str]) -> (Killed, String) {
    let mut child = Command::new(exe)
        .args(["update-server", "--listen", "127.0.0.1:0", "--dir"])
        .arg(dir.join("srv"))
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    (Killed(child), base)
}

fn main() {
    if let Ok(spec) = std::env::var("SERVERS_BENCH_HOLD") {
        let mut parts = spec.split(',');
        let addr = parts.next().unwrap().to_string();
        let idle = parts.next().unwrap().parse().unwrap();
        let slow = parts.next().unwrap().parse().unwrap();
        hold(&addr, idle, slow);
        return;
    }
    let exe = env!("CARGO_BIN_EXE_kindling");
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    publish(exe, tmp.path());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    records(exe, tmp.path(), &rt);
    bounded_update_server(exe, tmp.path(), &rt);
    bounded_lock_serve(exe, &rt);
}

fn bounded_update_server(exe: &str, dir: &std::path::Path, rt: &tokio::runtime::Runtime) {
    println!(
        "\n-- update-server (default limits) with {IDLE} idle + {SLOW} slowloris connections --"
    );
    let (server, base) = update_server(exe, dir, &[]);
    let pid = server.0.id();
    let addr = base.trim_start_matches("http://").to_string();
    let held = helpers(&addr);
    let endpoint = format!("{base}/v1/update/");
    let times = rt.block_on(async {
        let mut times = Vec::new();
        for n in 0..20 {
            let client = reqwest::Client::new();
            let start = Instant::now();
            let r = tokio::time::timeout(
                Duration::from_secs(10),
                client
                    .post(&endpoint)
                    .header("content-type", "text/xml")
                    .body(request(&format!("normal{n}"), "1.0.0"))
                    .send(),
            )
            .await
            .expect("an update check within 10 s")
            .unwrap();
            assert_eq!(r.status(), 200);
            r.bytes().await.unwrap();
            times.push(start.elapsed());
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        times
    });
    summary("normal update checks", times);
    println!(
        "  server: {} descriptors open, peak RSS {:.1} MiB",
        fds(pid),
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    drop(held);
}

fn bounded_lock_serve(exe: &str, rt: &tokio::runtime::Runtime) {
    println!(
        "\n-- lock serve (default limits, real etcd) with {IDLE} idle + {SLOW} slowloris connections --"
    );
    let etcd_dir = tempfile::tempdir().unwrap();
    let port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port()
    };
    let (c, p, l) = (port(), port(), port());
    let url = format!("http://127.0.0.1:{c}");
    let peer = format!("http://127.0.0.1:{p}");
    let _etcd = Killed(
        Command::new("etcd")
            .arg("--name=bench")
            .arg(format!(
                "--data-dir={}",
                etcd_dir.path().join("d").display()
            ))
            .arg(format!("--listen-client-urls={url}"))
            .arg(format!("--advertise-client-urls={url}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=bench={peer}"))
            .arg("--log-level=error")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd (Debian package etcd-server) is needed"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(format!("127.0.0.1:{c}")).is_err() {
        assert!(Instant::now() < deadline, "etcd did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let addr = format!("127.0.0.1:{l}");
    let server = Killed(
        Command::new(exe)
            .args(["lock", "--endpoint", &url, "serve", "--listen", &addr])
            .args(["--group-slots", "workers=100"])
            .spawn()
            .unwrap(),
    );
    let pid = server.0.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "lock serve did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    let held = helpers(&addr);
    let base = format!("http://{addr}");
    let times = rt.block_on(async {
        let mut times = Vec::new();
        for n in 0..20 {
            for api in ["pre-reboot", "steady-state"] {
                let client = reqwest::Client::new();
                let start = Instant::now();
                let r = tokio::time::timeout(
                    Duration::from_secs(10),
                    client
                        .post(format!("{base}/v1/{api}"))
                        .header("fleet-lock-protocol", "true")
                        .body(format!(
                            "{{\"client_params\":{{\"id\":\"node{n}\",\"group\":\"workers\"}}}}"
                        ))
                        .send(),
                )
                .await
                .expect("a FleetLock answer within 10 s")
                .unwrap();
                assert_eq!(r.status(), 200, "{api}");
                times.push(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        times
    });
    summary("FleetLock requests (pre-reboot, steady-state)", times);
    println!(
        "  server: {} descriptors open, peak RSS {:.1} MiB",
        fds(pid),
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    drop(held);
}

/// Checks from `CONCURRENCY` keep-alive clients over `machines` for `seconds` (or, with
/// `once`, each machine exactly once); the rate.
async fn load(endpoint: &str, machines: Arc<Vec<String>>, seconds: u64, once: bool) -> f64 {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (client, endpoint, machines) =
            (client.clone(), endpoint.to_string(), Arc::clone(&machines));
        let (stop, done) = (Arc::clone(&stop), Arc::clone(&done));
        tasks.push(tokio::spawn(async move {
            let mut i = t;
            while !stop.load(Ordering::Relaxed) && (!once || i < machines.len()) {
                let r = client
                    .post(&endpoint)
                    .header("content-type", "text/xml")
                    .body(request(&machines[i % machines.len()], "2.0.0"))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                r.bytes().await.unwrap();
                i += CONCURRENCY;
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    if !once {
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
    }
    for t in tasks {
        t.await.unwrap();
    }
    done.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}

fn status_run(exe: &str, dir: &std::path::Path) -> (Duration, u64, usize) {
    let start = Instant::now();
    let out = Command::new(exe)
        .args(["update-server", "status", "--format", "json", "--dir"])
        .arg(dir.join("srv"))
        .output()
        .unwrap();
    let took = start.elapsed();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let n = json["instances"].as_array().unwrap().len();
    let usage =
        nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN).unwrap();
    (took, usage.max_rss() as u64, n)
}

fn records(exe: &str, dir: &std::path::Path, rt: &tokio::runtime::Runtime) {
    println!("-- update-server records: {MACHINES} machines --");
    let (server, base) = update_server(
        exe,
        dir,
        &[
            "--max-machines",
            &MACHINES.to_string(),
            "--new-machines-per-minute",
            "1000000",
        ],
    );
    let pid = server.0.id();
    let endpoint = format!("{base}/v1/update/");
    let machines: Arc<Vec<String>> =
        Arc::new((0..MACHINES).map(|m| format!("bench{m:028}")).collect());
    let rate = rt.block_on(load(&endpoint, Arc::clone(&machines), 0, true));
    println!("  recording {MACHINES} new machines: {rate:.0} checks/s");
    let rate = rt.block_on(load(&endpoint, Arc::clone(&machines), CHECK_SECONDS, false));
    println!(
        "  update checks over {MACHINES} recorded machines: {rate:.0}/s for {CHECK_SECONDS} s ({CONCURRENCY} keep-alive clients; goal >= 5,000/s)"
    );
    println!(
        "  server peak RSS {:.1} MiB (goal <= 200 MB); instances.log {:.1} MiB",
        status_kib(pid, "VmHWM:") as f64 / 1024.0,
        std::fs::metadata(dir.join("srv/instances.log")).map_or(0, |m| m.len()) as f64 / 1048576.0
    );
    std::thread::sleep(Duration::from_secs(2));
    let (took, rss_kib, n) = status_run(exe, dir);
    println!(
        "  `update-server status --format json`: {n} machines in {:.2} s, peak RSS {:.1} MiB (goals <= 1 s, <= 200 MB)",
        took.as_secs_f64(),
        rss_kib as f64 / 1024.0
    );
    let spray: Arc<Vec<String>> = Arc::new((0..SPRAY).map(|m| format!("spray{m:027}")).collect());
    let rate = rt.block_on(load(&endpoint, spray, 0, true));
    std::thread::sleep(Duration::from_secs(2));
    let (_, _, n) = status_run(exe, dir);
    println!(
        "  a client spraying {SPRAY} new machine ids ({rate:.0}/s): {n} machines recorded after (cap {MACHINES}); server peak RSS {:.1} MiB",
        status_kib(pid, "VmHWM:") as f64 / 1024.0
    );
    drop(server);
    let _ = std::io::stdout().flush();
}
