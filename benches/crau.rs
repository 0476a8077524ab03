//! `cargo bench --bench crau`: a 1 GiB update_engine payload ("CrAU", made by mantle's
//! `flatcar-update-gen` from a 1 GiB image, half random bytes (`REPLACE` operations) and half
//! text (`REPLACE_BZ`)), downloaded over loopback and applied into a slot region of an image
//! file by the real release binary (`kindling payload fetch`, which recognises the format),
//! against mantle's `flatcar-update-apply` on the same payload from the local disk, the two
//! alternating in the same run.
//!
//! Goal: kindling's time <= 0.6x flatcar-update-apply's, peak RSS <= 64 MB. Needs the peers
//! in `../shared/peers` (`flatcar-update-gen`, `flatcar-update-apply`) and `/usr/bin/time`.
//! Everything lives under `target/` (or `KINDLING_BENCH_DIR`) and is removed afterwards.

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{GIB, OFFSET, measured, median, median_f, payload_fetch, serve, slot_image};

/// Runs of each, alternating.
const RUNS: usize = 3;

fn peer(name: &str) -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../shared/peers")
        .join(name);
    assert!(p.is_file(), "{} is missing (../shared/peers)", p.display());
    p
}

/// The 1 GiB image: 512 MiB random, then 512 MiB of numbered text lines.
fn image(path: &Path) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut urandom = std::fs::File::open("/dev/urandom").unwrap();
    std::io::copy(&mut (&mut urandom).take(GIB / 2), &mut out).unwrap();
    let mut written = 0u64;
    let mut i = 0u64;
    while written < GIB / 2 {
        let line = format!("{i:>12} kindling CrAU benchmark, a compressible line of text\n");
        let n = usize::try_from((GIB / 2 - written).min(line.len() as u64)).unwrap();
        out.write_all(&line.as_bytes()[..n]).unwrap();
        written += n as u64;
        i += 1;
    }
    out.flush().unwrap();
}

fn main() {
    let base = std::env::var("KINDLING_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    let dir = tempfile::tempdir_in(&base).unwrap();
    let d = dir.path();
    println!("CrAU: working in {base}");
    let usr = d.join("usr.img");
    image(&usr);
    let payload = d.join("payload.bin");
    let out = Command::new(peer("flatcar-update-gen"))
        .arg("-usr")
        .arg(&usr)
        .arg("-out")
        .arg(&payload)
        .env("TMPDIR", d)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "flatcar-update-gen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    println!(
        "payload: {} bytes (from a {} byte image)",
        printed["SIZE"], printed["USR_SIZE"]
    );
    let root = d.join("root");
    std::fs::create_dir_all(root.join("etc/kindling/trusted-keys")).unwrap();
    std::fs::copy(
        peer("flatcar-update-tools/developer-key.pub.pem"),
        root.join("etc/kindling/trusted-keys/developer.pem"),
    )
    .unwrap();
    let disk = d.join("disk.img");
    let len = GIB + OFFSET;
    slot_image(&disk, len);
    let addr = serve(vec![("/payload.bin".into(), payload.clone())]);
    let apply_dir = d.join("apply");
    std::fs::create_dir_all(&apply_dir).unwrap();

    let (mut ours, mut theirs) = (Vec::new(), Vec::new());
    let (mut our_cpu, mut their_cpu) = (Vec::new(), Vec::new());
    let (mut our_rss, mut their_rss) = (0u64, 0u64);
    for _ in 0..RUNS {
        let (took, rss, cpu, _) = measured(
            Command::new(peer("flatcar-update-apply"))
                .arg(&payload)
                .current_dir(&apply_dir),
        );
        theirs.push(took);
        their_cpu.push(cpu);
        their_rss = their_rss.max(rss);
        let (took, rss, cpu, _) = measured(&mut payload_fetch(
            &format!("http://{addr}/payload.bin"),
            &printed["SIZE"],
            &printed["SHA256_B64"],
            &disk,
            &root,
        ));
        ours.push(took);
        our_cpu.push(cpu);
        our_rss = our_rss.max(rss);
    }
    same_bytes(&apply_dir.join("out"), &disk);
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average after the runs: {}", load.trim());
    println!("flatcar-update-apply (local file), runs: {theirs:?}");
    println!("kindling payload fetch (loopback), runs:  {ours:?}");
    let (t, o) = (median(theirs), median(ours));
    let ratio = o.as_secs_f64() / t.as_secs_f64();
    println!(
        "medians: flatcar-update-apply {:.2}s (CPU {:.2}s, peak RSS {:.1} MB), kindling {:.2}s (CPU {:.2}s, peak RSS {:.1} MB)",
        t.as_secs_f64(),
        median_f(their_cpu),
        their_rss as f64 * 1024.0 / 1e6,
        o.as_secs_f64(),
        median_f(our_cpu),
        our_rss as f64 * 1024.0 / 1e6,
    );
    println!(
        "kindling / flatcar-update-apply: {ratio:.2}x (goal <= 0.6x) {}",
        if ratio <= 0.6 { "MET" } else { "NOT MET" }
    );
    println!(
        "kindling peak RSS (goal <= 64 MB) {}",
        if our_rss * 1024 <= 64_000_000 {
            "MET"
        } else {
            "NOT MET"
        }
    );
}

/// The slot holds exactly what flatcar-update-apply wrote.
fn same_bytes(reference: &Path, disk: &Path) {
    use std::os::unix::fs::FileExt;
    let r = std::fs::File::open(reference).unwrap();
    let s = std::fs::File::open(disk).unwrap();
    let (mut a, mut b) = (vec![0u8; 1 << 20], vec![0u8; 1 << 20]);
    let len = r.metadata().unwrap().len();
    let mut at = 0;
    while at < len {
        let n = usize::try_from((len - at).min(1 << 20)).unwrap();
        r.read_exact_at(&mut a[..n], at).unwrap();
        s.read_exact_at(&mut b[..n], OFFSET + at).unwrap();
        assert!(
            a[..n] == b[..n],
            "the slot differs from flatcar-update-apply's output at {at}"
        );
        at += n as u64;
    }
}
