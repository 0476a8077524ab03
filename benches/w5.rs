//! `cargo bench --bench w5`: the W5 workload, a 1 GiB payload downloaded over loopback,
//! written into a slot region of an image file and verified (SHA-256 and the minisign
//! signature over the bytes as they are in the region), by the real release binary
//! (`kindling payload fetch`), against this machine's limit measured in the same run: the
//! slower of `openssl dgst -sha256` of the file (vectorised SHA-256) and `dd` of the file
//! into the same slot with `conv=fdatasync`.
//!
//! Goal: kindling's throughput >= 90% of the limit's, peak RSS <= 64 MB. The server is a
//! small in-process loopback server that sends the file with `std::io::copy` (sendfile),
//! so it costs the client little CPU on the 2 cores. The payload is random bytes (nothing
//! compresses or short-cuts), signed with Debian's `minisign -S`. Everything lives under
//! `target/` (or `KINDLING_BENCH_DIR`) and is removed afterwards.

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest as _;

const GIB: u64 = 1 << 30;
const OFFSET: u64 = 1 << 20;
/// Runs of each; openssl, dd and kindling alternate, so all see the same background load.
const RUNS: usize = 5;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Serve `files` (URL path -> file) on 127.0.0.1, one request per connection.
fn serve(files: Vec<(String, PathBuf)>) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let files = files.clone();
            std::thread::spawn(move || answer(conn, &files));
        }
    });
    addr
}

fn answer(mut conn: TcpStream, files: &[(String, PathBuf)]) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
            break;
        }
    }
    let Some((_, file)) = files.iter().find(|(p, _)| *p == path) else {
        let _ = conn.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    let mut f = std::fs::File::open(file).unwrap();
    let len = f.metadata().unwrap().len();
    let _ = write!(
        conn,
        "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n"
    );
    // std specialises File -> TcpStream copies to sendfile.
    let _ = std::io::copy(&mut f, &mut conn);
}

fn timed(cmd: &mut Command) -> (Duration, String) {
    let start = Instant::now();
    let out = cmd.output().unwrap();
    let took = start.elapsed();
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (took, String::from_utf8_lossy(&out.stderr).into_owned())
}

fn main() {
    let base = std::env::var("KINDLING_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    let dir = tempfile::tempdir_in(&base).unwrap();
    let d = dir.path();
    println!("W5: working in {base}");

    // The payload: 1 GiB of random bytes.
    let payload = d.join("usr.bin");
    {
        let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
        let mut out = std::io::BufWriter::new(std::fs::File::create(&payload).unwrap());
        std::io::copy(&mut (&mut urandom).take(GIB), &mut out).unwrap();
        out.flush().unwrap();
    }
    // A key, a signature (minisign -S: prehashed), the trusted key in a root.
    let key = |args: &[&str]| {
        let out = Command::new("minisign")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("minisign is not installed (Debian package minisign)");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let public = d.join("release.pub");
    let secret = d.join("release.key");
    key(&[
        "-G",
        "-W",
        "-p",
        public.to_str().unwrap(),
        "-s",
        secret.to_str().unwrap(),
    ]);
    key(&[
        "-S",
        "-s",
        secret.to_str().unwrap(),
        "-m",
        payload.to_str().unwrap(),
    ]);
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc/kindling/trusted-keys")).unwrap();
    std::fs::copy(&public, root.join("etc/kindling/trusted-keys/release.pub")).unwrap();
    let sha256 = {
        let mut h = sha2::Sha256::new();
        let mut f = std::fs::File::open(&payload).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        base64::engine::general_purpose::STANDARD.encode(h.finalize())
    };
    // The disk image: the slot (payload + 1 MiB) at 1 MiB, allocated and synced before
    // timing, as a real partition is.
    let image = d.join("disk.img");
    let len = GIB + OFFSET;
    {
        let f = std::fs::File::create(&image).unwrap();
        let zeros = vec![0u8; 1 << 20];
        let mut w = std::io::BufWriter::new(&f);
        for _ in 0..(OFFSET + len + OFFSET) / (1 << 20) {
            w.write_all(&zeros).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        f.sync_all().unwrap();
    }
    let addr = serve(vec![
        ("/usr.bin".into(), payload.clone()),
        ("/usr.bin.minisig".into(), d.join("usr.bin.minisig")),
    ]);

    // openssl and dd on the same file (warm page cache, as the server's reads are), dd into
    // the same slot, alternating with kindling.
    let exe = env!("CARGO_BIN_EXE_kindling");
    let mut ssl_runs = Vec::new();
    let mut dd_runs = Vec::new();
    let mut runs = Vec::new();
    let mut peak_kib = 0u64;
    let mut phases = Vec::new();
    for _ in 0..RUNS {
        ssl_runs.push(
            timed(
                Command::new("openssl")
                    .args(["dgst", "-sha256"])
                    .arg(&payload),
            )
            .0,
        );
        dd_runs.push(
            timed(
                Command::new("dd")
                    .arg(format!("if={}", payload.display()))
                    .arg(format!("of={}", image.display()))
                    .args(["bs=1M", "seek=1", "conv=notrunc,fdatasync", "status=none"]),
            )
            .0,
        );
        let (took, stderr) = timed(
            Command::new("/usr/bin/time")
                .args(["-f", "maxrss_kib=%M"])
                .arg(exe)
                .args(["payload", "fetch", "--timings"])
                .args(["--url", &format!("http://{addr}/usr.bin")])
                .args(["--size", &GIB.to_string()])
                .args(["--sha256", &sha256])
                .arg("--image")
                .arg(&image)
                .args(["--offset", &OFFSET.to_string()])
                .args(["--len", &len.to_string()])
                .arg("--root")
                .arg(&root)
                .env_remove("ALL_PROXY")
                .env_remove("HTTP_PROXY")
                .env_remove("http_proxy"),
        );
        let rss: u64 = stderr
            .lines()
            .find_map(|l| l.strip_prefix("maxrss_kib="))
            .and_then(|v| v.trim().parse().ok())
            .expect("no RSS from /usr/bin/time");
        peak_kib = peak_kib.max(rss);
        if let Some(t) = stderr.lines().find(|l| l.starts_with("timings:")) {
            phases.push(t.to_string());
        }
        runs.push(took);
    }
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after the runs: {}", load.trim());
    let ssl = median(ssl_runs.clone());
    let dd = median(dd_runs.clone());
    let limit = ssl.max(dd);
    let ours = median(runs.clone());
    let mib = GIB as f64 / f64::from(1 << 20);
    let rate = |d: Duration| mib / d.as_secs_f64();
    let ratio = limit.as_secs_f64() / ours.as_secs_f64();
    println!("openssl dgst -sha256, runs:        {ssl_runs:?}");
    println!("dd conv=fdatasync, runs:           {dd_runs:?}");
    println!("kindling payload fetch, runs:      {runs:?}");
    for p in &phases {
        println!("  {p}");
    }
    println!(
        "openssl dgst -sha256: median {:.2}s = {:.0} MiB/s",
        ssl.as_secs_f64(),
        rate(ssl)
    );
    println!(
        "dd into the slot, conv=fdatasync: median {:.2}s = {:.0} MiB/s",
        dd.as_secs_f64(),
        rate(dd)
    );
    println!(
        "limit (the slower of the two): {:.2}s = {:.0} MiB/s",
        limit.as_secs_f64(),
        rate(limit)
    );
    println!(
        "kindling (download + write + SHA-256 + minisign over the slot's bytes + fdatasync): median {:.2}s = {:.0} MiB/s",
        ours.as_secs_f64(),
        rate(ours)
    );
    println!(
        "throughput vs the limit: {:.0}% (goal >= 90%) {}",
        ratio * 100.0,
        if ratio >= 0.9 { "MET" } else { "NOT MET" }
    );
    println!(
        "peak RSS: {:.1} MB (goal <= 64 MB) {}",
        peak_kib as f64 * 1024.0 / 1e6,
        if peak_kib * 1024 <= 64_000_000 {
            "MET"
        } else {
            "NOT MET"
        }
    );
    check_untouched(&image);
}

/// The bytes before the region are still zero (a cheap guard that the benchmark wrote
/// where it should).
fn check_untouched(image: &Path) {
    let mut f = std::fs::File::open(image).unwrap();
    let mut head = vec![0u8; usize::try_from(OFFSET).unwrap()];
    f.read_exact(&mut head).unwrap();
    assert!(
        head.iter().all(|&b| b == 0),
        "bytes before the region changed"
    );
}
