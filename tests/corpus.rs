//! Real cloud-configs from public repositories (`../shared/corpus/cloud-config/`, and the
//! Butane files, which are not cloud-configs): no panic, every finding has a real line
//! and column, and every mistake `SOURCES.tsv` marks `BUGGY` is found.

use std::collections::BTreeSet;

use crate::support::common::{corpus, lines, tsv, validate_file};

/// What each BUGGY file must produce: (file number, code, line).
const EXPECTED: &[(&str, &str, usize)] = &[
    // Unit list items dangle inside coreos.etcd2 (the `units:` key is missing).
    ("003", "kindling::yaml::syntax", 43),
    // Stray top-level `role:` key.
    ("030", "kindling::structure::unknown-key", 38),
    // `${Etc_Host}` at column 0 ends the block scalar and becomes a key without ':'.
    // (Its other mistake, etcd2.service listed twice, cannot be seen past the YAML error.)
    ("033", "kindling::yaml::syntax", 7),
    // `permission` typo; `reboot-strategy: $reboot_strategy` left unrendered.
    ("038", "kindling::structure::unknown-key", 10),
    ("038", "kindling::update::reboot-strategy", 18),
    // Heat variables where a boolean and enums are wanted.
    ("039", "kindling::update::reboot-strategy", 48),
    ("039", "kindling::etcd2::proxy", 53),
    ("039", "kindling::units::command", 103),
    ("039", "kindling::structure::incorrect-type", 104),
    // `permission` typo, twice.
    ("041", "kindling::structure::unknown-key", 66),
    ("041", "kindling::structure::unknown-key", 70),
    // Over-indented drop-in content.
    ("042", "kindling::yaml::syntax", 29),
    // Lowercase [unit] section; a timer nothing starts.
    ("050", "kindling::units::section", 26),
    ("050", "kindling::units::timer-never-started", 16),
    // `update:` at the top level.
    ("055", "kindling::structure::unknown-key", 200),
    // No header / indented header.
    ("057", "kindling::source::not-cloud-config", 1),
    ("058", "kindling::source::not-cloud-config", 1),
    ("059", "kindling::source::not-cloud-config", 1),
    // Unquoted %(name)s placeholder.
    ("061", "kindling::yaml::syntax", 6),
    // Container Linux Config keys in a cloud-config.
    ("062", "kindling::structure::unknown-key", 2),
    ("062", "kindling::structure::unknown-key", 16),
    ("062", "kindling::structure::unknown-key", 26),
    // `permisions` typo.
    ("063", "kindling::structure::unknown-key", 13),
    // fleet `private-ip`; `command` on a drop-in.
    ("065", "kindling::structure::unknown-key", 16),
    ("065", "kindling::structure::unknown-key", 49),
    // Over-indented drop-ins.
    ("066", "kindling::yaml::syntax", 45),
    // Mis-indented list item.
    ("067", "kindling::yaml::syntax", 33),
    // Unquoted {{cluster_token}}.
    ("098", "kindling::yaml::syntax", 7),
    // `coreos:` with no value.
    ("103", "kindling::structure::empty-value", 3),
];

/// BUGGY notes kindling deliberately does not report, with the reason.
const DISPUTED: &[(&str, &str)] = &[
    (
        "101",
        "the note says `ssh_authorized_keys` under a user is ignored, as it was before \
         coreos-cloudinit 1.0 (struct tag `ssh-authorized-keys`, no key normalisation); \
         v1.14.0's tag is `ssh_authorized_keys` and `-`/`_` are interchangeable, so the keys \
         are read (schema reference §4, User)",
    ),
    (
        "106",
        "`proxy: on` unquoted: string fields keep the raw text, so etcd2 gets `on`, a valid \
         proxy mode (schema reference §2, §4.1); `reboot-strategy: off` likewise",
    ),
];

fn corpus_files(dir: &str) -> Vec<std::path::PathBuf> {
    crate::support::common::yaml_files(&corpus(dir))
}

#[test]
fn every_file_validates_with_real_positions() {
    let mut count = 0;
    for dir in ["cloud-config", "butane"] {
        for path in corpus_files(dir) {
            let v = validate_file(&path);
            for f in &v.findings {
                let start = v.source.position(f.span.start);
                let end = v.source.position(f.span.end);
                assert!(
                    start.line >= 1 && start.column >= 1,
                    "{}: {f:?}",
                    path.display()
                );
                assert!(
                    start.line <= v.source.index.line_count(),
                    "{}: {f:?}",
                    path.display()
                );
                assert!((end.line, end.column) >= (start.line, start.column));
                assert!(!f.message.is_empty() && !f.help_text().is_empty());
            }
            count += 1;
        }
    }
    assert!(
        count >= 93,
        "expected the 82 + 11 corpus files, read {count}"
    );
}

#[test]
fn buggy_files_are_caught() {
    let mut failures = Vec::new();
    for (num, code, line) in EXPECTED {
        let path = corpus_files("cloud-config")
            .into_iter()
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&format!("{num}-"))
            })
            .unwrap();
        let v = validate_file(&path);
        let found = lines(&v);
        if !found.iter().any(|(l, c, _)| l == line && c == code) {
            failures.push(format!("{num}: want {code} at line {line}, got {found:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn every_buggy_note_is_covered_or_disputed() {
    let buggy: BTreeSet<String> = tsv(&corpus("SOURCES.tsv"))
        .into_iter()
        .filter(|row| row.iter().any(|c| c.contains("BUGGY")))
        .map(|row| row[0].trim_start_matches("cloud-config/")[..3].to_string())
        .collect();
    let covered: BTreeSet<String> = EXPECTED
        .iter()
        .map(|(n, _, _)| (*n).to_string())
        .chain(DISPUTED.iter().map(|(n, _)| (*n).to_string()))
        .collect();
    assert_eq!(
        buggy, covered,
        "SOURCES.tsv BUGGY files vs the expectations here"
    );
}
