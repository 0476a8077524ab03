//! `cargo bench --bench update_server`: the real release binary's `update-server` on
//! loopback, driven by a load generator in this file (tokio + reqwest, same machine).
//!
//! 1. Update checks per second: update_engine's exact request from `CONCURRENCY` keep-alive
//!    connections for `CHECK_SECONDS`, from 1,000 distinct machines (half of them behind
//!    the release, so half the answers are update offers and every answer records an
//!    instance); reports the rate and the latency percentiles.
//! 2. Payload downloads: `DOWNLOADS` concurrent clients each GETting a `PAYLOAD_MIB` MiB
//!    payload, once in round 1 and twice in a row in round 2 (same concurrency, twice the
//!    bytes), with the server's peak RSS (VmHWM) after each round: if memory grew with the
//!    bytes served, the second figure would be larger.
//!
//! The generator shares the 2 cores with the server, so the rate is a floor for the
//! server alone.

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

const CHECK_SECONDS: u64 = 10;
const CONCURRENCY: usize = 32;
const MACHINES: usize = 1000;
const DOWNLOADS: usize = 50;
const PAYLOAD_MIB: usize = 256;

fn request(machine: usize, version: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<request protocol="3.0" version="update_engine-0.4.10" updaterversion="update_engine-0.4.10" installsource="scheduler" ismachine="1">
    <os version="Chateau" platform="CoreOS" sp="{version}_x86_64"></os>
    <app appid="{{e96281a6-d1af-4bde-9a0a-97b76e56dc57}}" version="{version}" track="stable" bootid="{{7d52a1cc-7066-40f0-91c7-7cb6a871bfde}}" oem="" oemversion="" alephversion="{version}" machineid="bench{machine:028}" machinealias="" lang="en-US" board="amd64-usr" hardware_class="" delta_okay="false" >
        <ping active="1"></ping>
        <updatecheck></updatecheck>
        <event eventtype="3" eventresult="2" previousversion=""></event>
    </app>
</request>
"#
    )
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}

fn publish(exe: &str, dir: &std::path::Path, version: &str, payload: &std::path::Path) {
    let sig = dir.join("payload.minisig");
    if !sig.exists() {
        // A minisign-shaped signature: the server checks the shape, not the key.
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
    }
    let out = Command::new(exe)
        .args(["update-server", "publish", "--dir"])
        .arg(dir.join("srv"))
        .args([
            "--channel",
            "stable",
            "--version",
            version,
            "--name",
            "update.gz",
            "--payload",
        ])
        .arg(payload)
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

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let exe = env!("CARGO_BIN_EXE_kindling");
    let tmp = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let payload = tmp.path().join("payload.bin");
    {
        // Pseudo-random bytes (xorshift), written once.
        let mut f = std::io::BufWriter::new(std::fs::File::create(&payload).unwrap());
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut block = vec![0u8; 1 << 20];
        for _ in 0..PAYLOAD_MIB {
            for chunk in block.chunks_mut(8) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                chunk.copy_from_slice(&x.to_le_bytes());
            }
            f.write_all(&block).unwrap();
        }
        f.flush().unwrap();
    }
    publish(exe, tmp.path(), "2.0.0", &payload);
    let mut child = Command::new(exe)
        .args([
            "update-server",
            "--new-machines-per-minute",
            "100000",
            "--listen",
            "127.0.0.1:0",
            "--dir",
        ])
        .arg(tmp.path().join("srv"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let server = Server(child);
    let pid = server.0.id();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_string();
    println!(
        "update-server (release build) at {base}, pid {pid}; the load generator runs on the same 2 cores"
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        checks(&base).await;
        println!(
            "server peak RSS after the update checks: {:.1} MiB",
            vm_hwm_kib(pid) as f64 / 1024.0
        );
        let url = format!("{base}/packages/stable/2.0.0/update.gz");
        for round in 1..=2 {
            downloads(&url, round).await;
            println!(
                "  server peak RSS (VmHWM) after round {round}: {:.1} MiB",
                vm_hwm_kib(pid) as f64 / 1024.0
            );
        }
    });
    drop(server);
}

async fn checks(base: &str) {
    let endpoint = format!("{base}/v1/update/");
    let bodies: Arc<Vec<String>> = Arc::new(
        (0..MACHINES)
            .map(|m| request(m, if m % 2 == 0 { "1.0.0" } else { "2.0.0" }))
            .collect(),
    );
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(CONCURRENCY)
        .build()
        .unwrap();
    // Warm-up: every machine once (creates the instance records).
    for b in bodies.iter() {
        let r = client
            .post(&endpoint)
            .header("content-type", "text/xml")
            .body(b.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        r.bytes().await.unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let offers = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..CONCURRENCY {
        let (client, endpoint, bodies) = (client.clone(), endpoint.clone(), Arc::clone(&bodies));
        let (stop, done, offers) = (Arc::clone(&stop), Arc::clone(&done), Arc::clone(&offers));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut i = t;
            while !stop.load(Ordering::Relaxed) {
                let body = bodies[i % bodies.len()].clone();
                i += CONCURRENCY;
                let sent = Instant::now();
                let r = client
                    .post(&endpoint)
                    .header("content-type", "text/xml")
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(r.status(), 200);
                let text = r.bytes().await.unwrap();
                latencies.push(sent.elapsed());
                if text.windows(11).any(|w| w == b"status=\"ok\"")
                    && text.windows(9).any(|w| w == b"<manifest")
                {
                    offers.fetch_add(1, Ordering::Relaxed);
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
            latencies
        }));
    }
    tokio::time::sleep(Duration::from_secs(CHECK_SECONDS)).await;
    stop.store(true, Ordering::Relaxed);
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.unwrap());
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let n = done.load(Ordering::Relaxed);
    println!(
        "update checks: {n} in {elapsed:.1} s = {:.0}/s ({} concurrent keep-alive connections, {MACHINES} machines, {} update offers); latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        n as f64 / elapsed,
        CONCURRENCY,
        offers.load(Ordering::Relaxed),
        pct(0.50).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies[latencies.len() - 1].as_secs_f64() * 1e3,
    );
}

async fn downloads(url: &str, round: usize) {
    let client = reqwest::Client::new();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..DOWNLOADS {
        let (client, url) = (client.clone(), url.to_string());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            for _ in 0..round {
                let mut resp = client.get(&url).send().await.unwrap();
                assert_eq!(resp.status(), 200);
                let mut got = 0u64;
                while let Some(chunk) = resp.chunk().await.unwrap() {
                    got += chunk.len() as u64;
                }
                assert_eq!(got, (PAYLOAD_MIB << 20) as u64);
                n += got;
            }
            n
        }));
    }
    let mut total = 0u64;
    for t in tasks {
        total += t.await.unwrap();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "downloads round {round}: {DOWNLOADS} concurrent clients x {round} GET(s) of {PAYLOAD_MIB} MiB, {:.1} GiB served in {secs:.1} s ({:.2} GiB/s)",
        total as f64 / (1u64 << 30) as f64,
        total as f64 / (1u64 << 30) as f64 / secs
    );
}
