//! `cargo bench --bench w1`: kindling validate on the W1 workload (see `workload.rs`).
//!
//! Measures the real release binary end to end (process start, read, parse, check,
//! JSON out) over repeated runs and reports the median and the peak RSS of the child
//! processes, then the in-process time of `kindling::validate` on W1 and on W1 doubled,
//! whose ratio shows whether the time is linear in the input. `-- --write DIR` writes
//! the workload files instead, for other tools (hyperfine, valgrind).

// A panic is how a benchmark reports a broken setup.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod workload;

use std::process::Command;
use std::time::{Duration, Instant};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn peak_child_rss_kib() -> i64 {
    // ru_maxrss of RUSAGE_CHILDREN: the largest resident set of any waited-for child, KiB.
    nix::sys::resource::getrusage(nix::sys::resource::UsageWho::RUSAGE_CHILDREN)
        .map_or(0, |u| u.max_rss())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let w1 = workload::w1(1);
    let w2 = workload::w1(2);
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let dir = std::path::PathBuf::from(args.get(i + 1).map_or("bench-out", String::as_str));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("w1.yaml"), &w1).unwrap();
        std::fs::write(dir.join("w1x2.yaml"), &w2).unwrap();
        println!("wrote {}", dir.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w1.yaml");
    std::fs::write(&path, &w1).unwrap();
    let lines = w1.lines().count();
    println!("W1: {lines} lines, {} bytes", w1.len());

    let exe = env!("CARGO_BIN_EXE_kindling");
    let mut runs = Vec::new();
    for i in 0..31 {
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["validate", "--format", "json"])
            .arg(&path)
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            out.status.success(),
            "W1 must validate clean: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        if i > 0 {
            runs.push(took);
        }
    }
    println!(
        "kindling validate W1 (binary, end to end): median {:.1} ms over {} runs; peak RSS {:.1} MB",
        median(runs).as_secs_f64() * 1e3,
        30,
        peak_child_rss_kib() as f64 / 1024.0
    );

    let time = |text: &str| {
        let mut samples = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            let v = kindling::validate("w", text.as_bytes().to_vec());
            samples.push(start.elapsed());
            assert!(v.findings.is_empty());
        }
        median(samples)
    };
    let mut parse = Vec::new();
    for _ in 0..21 {
        let start = Instant::now();
        let index = kindling::source::LineIndex::new(&w1);
        let parsed = kindling::source::yaml::parse(&w1, &index);
        parse.push(start.elapsed());
        assert!(parsed.root.is_some());
    }
    println!(
        "of which YAML parsing into the spanned tree: {:.1} ms",
        median(parse).as_secs_f64() * 1e3
    );
    let t1 = time(&w1);
    let t2 = time(&w2);
    println!(
        "kindling::validate in process: W1 {:.1} ms, W1x2 {:.1} ms, ratio {:.2}",
        t1.as_secs_f64() * 1e3,
        t2.as_secs_f64() * 1e3,
        t2.as_secs_f64() / t1.as_secs_f64()
    );
}
