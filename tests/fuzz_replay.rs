//! The fuzz targets on stable Rust: every seed corpus (`fuzz/corpus/NAME/`) replayed
//! through [`kindling::fuzzing::TARGETS`] (the bodies the cargo-fuzz binaries in `fuzz/`
//! call), then a bounded, deterministic mutation pass per target (bit flips, byte sets,
//! deletions, duplications, insertions of tokens, truncations and splices of two seeds,
//! from a seeded generator). A case that panics fails the test with its bytes; a case that
//! runs past [`HANG`] fails it as a hang. Each pass stops at [`CASES`] cases or [`BUDGET`],
//! whichever comes first, so the whole file stays well under a minute on two cores.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use kindling::fuzzing::{TARGETS, target};

/// Mutated cases per target.
const CASES: usize = 3000;
/// Time one target's mutation pass may take before it stops early (counted, not failed).
const BUDGET: Duration = Duration::from_secs(4);
/// A single case taking longer than this is a hang.
const HANG: Duration = Duration::from_secs(10);
/// The largest mutated input.
const MAX_LEN: usize = 64 * 1024;

/// Bytes a mutation inserts: what the parsers split on, and numbers at the edges.
const TOKENS: &[&[u8]] = &[
    b"<",
    b">",
    b"</a>",
    b"<a b=\"c\">",
    b"\"",
    b"'",
    b"&amp;",
    b"&#x10FFFF;",
    b"<![CDATA[",
    b"<!DOCTYPE a [<!ENTITY e \"x\">]>",
    b"{",
    b"}",
    b"[",
    b"]",
    b":",
    b",",
    b"=",
    b"/",
    b"-",
    b"*",
    b"\n",
    b"\r\n",
    b"\t",
    b" ",
    b"\0",
    b"\xff",
    b"\xc3\xa9",
    b"--",
    b"--==BOUNDARY==\n",
    b"Content-Type: multipart/mixed; boundary=\"x\"\n\n--x\n",
    b"Content-Transfer-Encoding: base64\n",
    b"0",
    b"-1",
    b"255",
    b"65536",
    b"4294967296",
    b"18446744073709551615",
    b"18446744073709551616",
    b"99999999999999999999999",
    b"1e400",
    b"null",
    b"true",
    b"::",
    b"0.0.0.0",
    b"../",
    b"iface ",
    b"auto ",
    b"bytes ",
];

/// xorshift64*: small, deterministic, and enough for choosing mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// One mutation of `bytes` (`other` is a second seed to splice with).
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, other: &[u8]) {
    let len = bytes.len();
    match rng.below(9) {
        0 if len > 0 => {
            let at = rng.below(len);
            bytes[at] ^= 1 << rng.below(8);
        }
        1 if len > 0 => {
            let at = rng.below(len);
            bytes[at] = rng.next() as u8;
        }
        2 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(64));
            bytes.drain(at..at + n);
        }
        3 if len > 0 => {
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(256));
            let copy = bytes[at..at + n].to_vec();
            let to = rng.below(len + 1);
            bytes.splice(to..to, copy);
        }
        4 => {
            let at = rng.below(len + 1);
            let n = 1 + rng.below(16);
            let fresh: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
            bytes.splice(at..at, fresh);
        }
        5 if len > 0 => bytes.truncate(rng.below(len)),
        6 => {
            let at = rng.below(len + 1);
            let from = rng.below(other.len() + 1);
            bytes.truncate(at);
            bytes.extend_from_slice(&other[from..]);
        }
        7 if len > 0 => {
            // Repeat one stretch many times: deep nesting, long lines, many parts.
            let at = rng.below(len);
            let n = 1 + rng.below((len - at).min(32));
            let copy = bytes[at..at + n].repeat(2 + rng.below(200));
            bytes.splice(at..at, copy);
        }
        _ => {
            let at = rng.below(len + 1);
            let token = TOKENS[rng.below(TOKENS.len())];
            bytes.splice(at..at, token.iter().copied());
        }
    }
    bytes.truncate(MAX_LEN);
}

fn corpus_dir(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(name)
}

/// The seeds of a target, sorted by file name.
fn seeds(name: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus_dir(name);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e} (every target has a seed corpus)", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

fn seed_of(name: &str) -> u64 {
    // FNV-1a of the name: each target has its own stream, the same on every run.
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    }) | 1
}

fn show(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(2048)];
    format!(
        "{} bytes: {:?}{}",
        bytes.len(),
        String::from_utf8_lossy(head),
        if bytes.len() > head.len() { "..." } else { "" }
    )
}

/// Replay the corpus of `name`, then mutate it; panics with the failing input.
fn replay(name: &'static str) {
    let body = target(name).unwrap_or_else(|| panic!("no target {name}"));
    let seeds = seeds(name);
    assert!(!seeds.is_empty(), "{name}: the seed corpus is empty");
    let current: Arc<Mutex<(String, Vec<u8>)>> = Arc::default();
    let (tx, rx) = mpsc::channel::<Option<usize>>();
    let shared = current.clone();
    let worker = std::thread::Builder::new()
        .name(format!("fuzz-{name}"))
        .spawn(move || {
            let set = |what: String, bytes: &[u8]| {
                *shared.lock().unwrap() = (what, bytes.to_vec());
            };
            for (path, bytes) in &seeds {
                set(format!("seed {}", path.display()), bytes);
                body(bytes);
                tx.send(None).unwrap();
            }
            let mut rng = Rng(seed_of(name));
            let started = Instant::now();
            let mut done = 0;
            while done < CASES && started.elapsed() < BUDGET {
                let mut bytes = seeds[rng.below(seeds.len())].1.clone();
                let other = &seeds[rng.below(seeds.len())].1;
                for _ in 0..1 + rng.below(4) {
                    mutate(&mut rng, &mut bytes, other);
                }
                set(format!("mutated case {done}"), &bytes);
                body(&bytes);
                done += 1;
                tx.send(None).unwrap();
            }
            tx.send(Some(done)).unwrap();
        })
        .unwrap();
    let failed = |what: &str| {
        let (case, bytes) = current.lock().unwrap().clone();
        panic!("{name}: {case} {what}; input {}", show(&bytes));
    };
    loop {
        match rx.recv_timeout(HANG) {
            Ok(None) => {}
            Ok(Some(done)) => {
                eprintln!("{name}: corpus replayed, {done} mutated cases");
                assert!(done >= 100, "{name}: only {done} mutated cases ran");
                break;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => failed(&format!("ran past {HANG:?} (a hang)")),
            Err(mpsc::RecvTimeoutError::Disconnected) => failed("panicked"),
        }
    }
    worker.join().unwrap();
}

macro_rules! replay_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                replay(stringify!($name));
            }
        )*

        /// Every target has a replay test here, a cargo-fuzz binary, and a corpus.
        #[test]
        fn every_target_is_replayed_and_has_a_fuzz_binary() {
            let replayed = [$(stringify!($name)),*];
            let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
            assert_eq!(names, replayed, "TARGETS and the replay tests differ");
            let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
            let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
            for name in names {
                let file = root.join("fuzz_targets").join(format!("{name}.rs"));
                let text = std::fs::read_to_string(&file)
                    .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
                assert!(
                    text.contains(&format!("kindling::fuzzing::{name}(")),
                    "{} does not call kindling::fuzzing::{name}",
                    file.display()
                );
                assert!(
                    manifest.contains(&format!("name = \"{name}\"")),
                    "fuzz/Cargo.toml has no [[bin]] {name}"
                );
                assert!(!seeds(name).is_empty());
            }
        }
    };
}

replay_tests!(
    omaha_request,
    omaha_response,
    xml,
    fleetlock_body,
    configdrive,
    ovf,
    waagent,
    netconf_debian,
    packet,
    guestinfo,
    minisign,
    content_range,
    inventory,
    vars,
    multipart,
    crau,
);

/// The mutator's own contract: the same seed gives the same cases, and they differ from
/// the seed (so the pass is not replaying the corpus over and over).
#[test]
fn mutations_are_deterministic_and_change_the_input() {
    let seed = b"<response protocol=\"3.0\"><app/></response>".to_vec();
    let run = || {
        let mut rng = Rng(7);
        (0..200)
            .map(|_| {
                let mut b = seed.clone();
                mutate(&mut rng, &mut b, b"other");
                b
            })
            .collect::<Vec<_>>()
    };
    let a = run();
    assert_eq!(a, run());
    assert!(a.iter().filter(|b| **b != seed).count() > 190);
}
