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
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
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
    // Under target/ unless KINDLING_BENCH_DIR names another place (e.g. a tmpfs, to see
    // kindling's own cost apart from the disk's): file creation speed varies a lot between
    // file systems, and the tree figures are printed beside that floor.
    let base = std::env::var("KINDLING_BENCH_DIR")
        .unwrap_or_else(|_| env!("CARGO_TARGET_TMPDIR").to_string());
    let dir = tempfile::tempdir_in(&base).unwrap();
    println!("working in {base}");
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

    // The whole real-config corpus in one invocation (82 files), when it is beside us.
    let corpus = std::path::Path::new("../shared/corpus/cloud-config");
    if corpus.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(corpus)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        let mut samples = Vec::new();
        for i in 0..21 {
            let start = Instant::now();
            let out = Command::new(exe)
                .args(["validate", "--format", "json"])
                .args(&files)
                .output()
                .unwrap();
            assert!(
                out.status.code().is_some(),
                "kindling crashed on the corpus"
            );
            if i > 0 {
                samples.push(start.elapsed());
            }
        }
        println!(
            "kindling validate on the whole corpus ({} files, one invocation): median {:.1} ms",
            files.len(),
            median(samples).as_secs_f64() * 1e3
        );
    }

    // Compile W1 to a tree, writing included (the previous tree is replaced each time).
    let out = dir.path().join("tree");
    let mut compiles = Vec::new();
    for i in 0..16 {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(["compile"])
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let took = start.elapsed();
        assert!(
            status.status.success(),
            "{}",
            String::from_utf8_lossy(&status.stderr)
        );
        if i > 0 {
            compiles.push(took);
        }
    }
    // The floor this machine sets: the same files (same directories, same sizes) written
    // with plain std::fs by one thread, no kindling at all, and the previous copy removed.
    let planned = kindling::compile::compile(
        "w1",
        w1.as_bytes().to_vec(),
        &kindling::compile::Options {
            target: kindling::compile::Target::Tree,
            vars: std::collections::BTreeMap::new(),
            plan: kindling::plan::PlanOptions::default(),
        },
    )
    .plan
    .unwrap();
    let mut floors = Vec::new();
    for _ in 0..5 {
        let raw = dir.path().join("raw");
        let start = Instant::now();
        let _ = std::fs::remove_dir_all(&raw);
        for f in &planned.files {
            let path = raw.join(f.path.trim_start_matches('/'));
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            if let kindling::plan::Content::Bytes(b) = &f.content {
                std::fs::write(&path, b).unwrap();
            }
        }
        floors.push(start.elapsed());
    }
    let floor = median(floors);
    let tree = median(compiles);
    println!(
        "kindling compile W1 --out DIR (binary, writing {} files, replacing the previous tree): median {:.1} ms over 15 runs",
        planned.files.len(),
        tree.as_secs_f64() * 1e3
    );
    println!(
        "  floor on this machine (the same files written and replaced with plain std::fs): median {:.1} ms",
        floor.as_secs_f64() * 1e3
    );
    let ign = dir.path().join("ign");
    let mut ignition = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let status = Command::new(exe)
            .args(["compile", "--target", "ignition"])
            .arg(&path)
            .arg("--out")
            .arg(&ign)
            .output()
            .unwrap();
        assert!(status.status.success());
        ignition.push(start.elapsed());
    }
    println!(
        "kindling compile W1 --target ignition: median {:.1} ms",
        median(ignition).as_secs_f64() * 1e3
    );

    // Apply W1 into an empty root (fsync-bound), then again unchanged, and diff it.
    let root = dir.path().join("root");
    std::fs::create_dir(&root).unwrap();
    let start = Instant::now();
    let out = Command::new(exe)
        .args(["apply"])
        .arg(&path)
        .arg("--root")
        .arg(&root)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    println!(
        "kindling apply W1 into an empty root: {:.0} ms (every file and directory fsynced)",
        start.elapsed().as_secs_f64() * 1e3
    );
    let mut reapply = Vec::new();
    let mut diffs = Vec::new();
    for _ in 0..11 {
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["apply"])
            .arg(&path)
            .arg("--root")
            .arg(&root)
            .output()
            .unwrap();
        reapply.push(start.elapsed());
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("no changes") && text.contains("wrote 0 file(s)"),
            "{text}"
        );
        let start = Instant::now();
        let out = Command::new(exe)
            .args(["diff", "--exit-code"])
            .arg(&path)
            .arg("--root")
            .arg(&root)
            .output()
            .unwrap();
        diffs.push(start.elapsed());
        assert!(out.status.success());
    }
    println!(
        "kindling apply W1 again, unchanged (zero writes): median {:.1} ms; kindling diff W1 --root (no changes): median {:.1} ms",
        median(reapply).as_secs_f64() * 1e3,
        median(diffs).as_secs_f64() * 1e3
    );

    // The compile stages in process.
    let options = kindling::compile::Options {
        target: kindling::compile::Target::Tree,
        vars: std::collections::BTreeMap::new(),
        plan: kindling::plan::PlanOptions::default(),
    };
    let stage = |f: &mut dyn FnMut()| {
        let mut samples = Vec::new();
        for _ in 0..11 {
            let start = Instant::now();
            f();
            samples.push(start.elapsed());
        }
        median(samples).as_secs_f64() * 1e3
    };
    let compiled = kindling::compile::compile("w1", w1.as_bytes().to_vec(), &options);
    let plan = compiled.plan.clone().unwrap();
    let t_compile = stage(&mut || {
        let _ = kindling::compile::compile("w1", w1.as_bytes().to_vec(), &options);
    });
    let t_plan = stage(&mut || {
        let _ = kindling::plan::plan(&compiled.validation.config, &options.plan);
    });
    let t_manifest = stage(&mut || {
        let _ = kindling::emit::manifest::render(&plan, &compiled.validation.source);
    });
    let t_ignition = stage(&mut || {
        let _ = kindling::emit::ignition::render(&plan);
    });
    println!(
        "in process: compile (validate + plan) {t_compile:.1} ms, of which plan {t_plan:.1} ms; manifest {t_manifest:.1} ms; ignition {t_ignition:.1} ms"
    );

    let time = |text: &str| {
        let mut samples = Vec::new();
        for _ in 0..21 {
            let start = Instant::now();
            let v = kindling::validate("w", text.as_bytes().to_vec());
            samples.push(start.elapsed());
            assert!(!v.has(kindling::diagnostic::Severity::Error));
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
