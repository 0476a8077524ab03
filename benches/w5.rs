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

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{GIB, OFFSET, measured, median, median_f, payload_fetch, serve, slot_image};

use base64::Engine as _;
use sha2::Digest as _;

/// Runs of each; openssl, dd and kindling alternate, so all see the same background load.
const RUNS: usize = 5;

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
    slot_image(&image, len);
    let addr = serve(vec![
        ("/usr.bin".into(), payload.clone()),
        ("/usr.bin.minisig".into(), d.join("usr.bin.minisig")),
    ]);

    // openssl and dd on the same file (warm page cache, as the server's reads are), dd into
    // the same slot, alternating with kindling.
    let mut ssl_runs = Vec::new();
    let mut ssl_cpu = Vec::new();
    let mut cpu = Vec::new();
    let mut dd_runs = Vec::new();
    let mut runs = Vec::new();
    let mut peak_kib = 0u64;
    let mut phases = Vec::new();
    for _ in 0..RUNS {
        let (took, _, used, _) = measured(
            Command::new("openssl")
                .args(["dgst", "-sha256"])
                .arg(&payload),
        );
        ssl_runs.push(took);
        ssl_cpu.push(used);
        let (took, _, _, _) = measured(
            Command::new("dd")
                .arg(format!("if={}", payload.display()))
                .arg(format!("of={}", image.display()))
                .args(["bs=1M", "seek=1", "conv=notrunc,fdatasync", "status=none"]),
        );
        dd_runs.push(took);
        let (took, rss, used, stderr) = measured(
            payload_fetch(
                &format!("http://{addr}/usr.bin"),
                &GIB.to_string(),
                &sha256,
                &image,
                &root,
            )
            .arg("--timings"),
        );
        peak_kib = peak_kib.max(rss);
        cpu.push(used);
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
    let (ssl_c, our_c) = (median_f(ssl_cpu), median_f(cpu));
    println!(
        "CPU seconds (user + system), medians: openssl {ssl_c:.2} s, kindling {our_c:.2} s ({:.1}x); \
         on two idle cores kindling's wall time can approach half its CPU time",
        our_c / ssl_c
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
