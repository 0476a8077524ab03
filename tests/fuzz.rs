//! Hostile input: random bytes, mutated real configs, deep nesting and alias bombs.
//! Every input must give findings with valid positions and never panic. (The cargo-fuzz
//! target in `fuzz/` runs the same invariants unbounded.)

use kindling::Validation;
use kindling::diagnostic::Severity;

use crate::support::common::{corpus, validate_text};

/// xorshift64*: a tiny deterministic generator, so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn check_invariants(v: &Validation) {
    let len = v.source.text.len();
    for f in &v.findings {
        assert!(f.span.start <= f.span.end && f.span.end <= len, "{f:?}");
        assert!(v.source.text.is_char_boundary(f.span.start), "{f:?}");
        let pos = v.source.position(f.span.start);
        assert!(pos.line >= 1 && pos.column >= 1);
        assert!(!f.message.is_empty());
    }
    let starts: Vec<usize> = v.findings.iter().map(|f| f.span.start).collect();
    assert!(
        starts.windows(2).all(|w| w[0] <= w[1]),
        "findings are sorted"
    );
}

fn run(bytes: Vec<u8>) -> Validation {
    let v = kindling::validate("fuzz", bytes);
    check_invariants(&v);
    v
}

#[test]
fn random_bytes() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..4 {
        let mut bytes: Vec<u8> = (0..200 * 1024).map(|_| rng.next() as u8).collect();
        if round % 2 == 1 {
            bytes.splice(0..0, b"#cloud-config\n".iter().copied());
        }
        let v = run(bytes);
        assert!(v.has(Severity::Error) || v.findings.is_empty() || v.has(Severity::Info));
    }
}

#[test]
fn random_yaml_like_text() {
    let alphabet: &[u8] = b"ab:- \n\t\"'|>&*![]{}#,?%@`\\0123456789";
    let mut rng = Rng(42);
    for _ in 0..300 {
        let n = rng.below(400);
        let mut text = b"#cloud-config\n".to_vec();
        text.extend((0..n).map(|_| alphabet[rng.below(alphabet.len())]));
        run(text);
    }
}

#[test]
fn mutated_corpus_files() {
    let mut files: Vec<_> = std::fs::read_dir(corpus("cloud-config"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut rng = Rng(7);
    let inserts: &[&[u8]] = &[
        b"\t",
        b":",
        b"- ",
        b"\n",
        b"  ",
        b"&a ",
        b"*a",
        b"<<: ",
        b"|",
        b"\"",
        b"\xff",
        b"\xc3\xa9",
    ];
    for path in files {
        let original = std::fs::read(&path).unwrap();
        for _ in 0..12 {
            let mut bytes = original.clone();
            for _ in 0..1 + rng.below(4) {
                if bytes.is_empty() {
                    break;
                }
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => {
                        bytes.remove(at);
                    }
                    1 => {
                        let ins = inserts[rng.below(inserts.len())];
                        bytes.splice(at..at, ins.iter().copied());
                    }
                    _ => bytes[at] = rng.next() as u8,
                }
            }
            run(bytes);
        }
    }
}

#[test]
fn deep_nesting_is_refused_quickly() {
    let depth = 20_000;
    let flow = format!(
        "#cloud-config\na: {}{}\n",
        "[".repeat(depth),
        "]".repeat(depth)
    );
    let block = format!("#cloud-config\na: {}x\n", "- ".repeat(depth));
    let maps = format!(
        "#cloud-config\na: {}x{}\n",
        "{b: ".repeat(depth),
        "}".repeat(depth)
    );
    for text in [flow, block, maps] {
        let v = validate_text(&text);
        check_invariants(&v);
        assert!(
            v.findings
                .iter()
                .any(|f| f.rule.code == "kindling::yaml::limits"
                    || f.rule.code == "kindling::yaml::syntax"),
            "{:?}",
            v.findings
        );
    }
}

#[test]
fn alias_bombs_are_refused() {
    let mut text = String::from("#cloud-config\na0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
    for i in 1..10 {
        let prev = format!("*a{}", i - 1);
        text.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            [prev.as_str(); 10].join(", ")
        ));
    }
    let v = validate_text(&text);
    check_invariants(&v);
    assert!(
        v.findings
            .iter()
            .any(|f| f.rule.code == "kindling::yaml::limits")
    );
}

#[test]
fn merge_keys_and_aliases_work() {
    let v = validate_text(
        "#cloud-config\ncoreos:\n  units:\n    - &base\n      name: a.service\n      command: start\n    - <<: *base\n      name: b.service\n",
    );
    assert!(v.findings.is_empty(), "{:?}", v.findings);
    let names: Vec<&str> = v.config.units().map(|u| u.value.name()).collect();
    assert_eq!(names, ["a.service", "b.service"]);
    let cmd = v
        .config
        .units()
        .nth(1)
        .unwrap()
        .value
        .command
        .as_ref()
        .unwrap();
    assert_eq!(cmd.value, "start");
}
