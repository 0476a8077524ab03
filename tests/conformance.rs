//! Conformance with the real coreos-cloudinit v1.14.0 validator on its own test cases
//! (`../shared/corpus/coreos-cloudinit-cases/`, `actual.tsv` = what the binary printed).
//!
//! For every case kindling must reach the same verdict (has an error or not) and have a
//! finding on the same line for the same key (or value) as each entry the peer printed,
//! unless the case is listed, with its reason, in the book's table of deliberate
//! differences (`book/src/differences.md`). A listed case that no longer differs fails
//! too, so the table stays true.

use std::collections::{BTreeMap, BTreeSet};

use kindling::diagnostic::Severity;

use crate::support::common::{book_table, corpus, lines, tsv, validate_file};

struct PeerEntry {
    line: usize,
    level: String,
    message: String,
}

/// What in a peer message names the thing flagged: the quoted key, or the invalid value.
fn token(message: &str) -> Option<String> {
    if let Some(rest) = message.strip_prefix("invalid value ") {
        return Some(rest.to_string());
    }
    let start = message.find('"')?;
    let end = message[start + 1..].find('"')? + start + 1;
    let key = &message[start + 1..end];
    (!key.is_empty()).then(|| key.to_string())
}

fn normalise(s: &str) -> String {
    s.replace('-', "_")
}

#[test]
fn coreos_cloudinit_cases() {
    let dir = corpus("coreos-cloudinit-cases");
    let mut peer: BTreeMap<String, Vec<PeerEntry>> = BTreeMap::new();
    for row in tsv(&dir.join("actual.tsv")) {
        let entries = peer.entry(row[0].clone()).or_default();
        if row[3] != "none" {
            entries.push(PeerEntry {
                line: row[2].parse().unwrap_or(0),
                level: row[3].clone(),
                message: row[4].clone(),
            });
        }
    }
    assert_eq!(peer.len(), 118, "actual.tsv should cover 118 cases");

    let listed: BTreeMap<String, String> = book_table("differences.md", "## Conformance cases")
        .into_iter()
        .map(|row| (row[0].clone(), row.last().cloned().unwrap_or_default()))
        .collect();
    for (case, reason) in &listed {
        assert!(
            peer.contains_key(case),
            "differences.md lists unknown case {case}"
        );
        assert!(
            !reason.is_empty(),
            "differences.md gives no reason for {case}"
        );
    }

    let mut unexplained = Vec::new();
    let mut stale = Vec::new();
    let mut agree = 0;
    for (case, entries) in &peer {
        let ours = validate_file(&dir.join(case));
        let found = lines(&ours);
        // The peer's "line 0: incorrect type for \"\"" after every YAML error is an
        // artefact of running its rules on an empty tree (reference §5.1); never expected.
        let entries: Vec<&PeerEntry> = entries.iter().filter(|e| e.line != 0).collect();
        let peer_error = entries.iter().any(|e| e.level == "error");
        let our_error = ours.has(Severity::Error);
        let mut problems = Vec::new();
        if peer_error != our_error {
            problems.push(format!(
                "verdict: peer error={peer_error}, kindling error={our_error}"
            ));
        }
        for entry in &entries {
            let want = token(&entry.message).map(|t| normalise(&t));
            let matched = found.iter().any(|(line, _, message)| {
                *line == entry.line
                    && want
                        .as_ref()
                        .is_none_or(|t| normalise(message).contains(t.as_str()))
            });
            if !matched {
                problems.push(format!(
                    "peer line {} {}: {} not matched",
                    entry.line, entry.level, entry.message
                ));
            }
        }
        match (problems.is_empty(), listed.contains_key(case)) {
            (true, false) => agree += 1,
            (true, true) => stale.push(case.clone()),
            (false, true) => {}
            (false, false) => unexplained.push(format!(
                "{case}: {}\n    kindling: {found:?}",
                problems.join("; ")
            )),
        }
    }
    assert!(
        unexplained.is_empty(),
        "{} case(s) differ from coreos-cloudinit without a listed reason:\n{}",
        unexplained.len(),
        unexplained.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed in differences.md but no longer different: {stale:?}"
    );
    assert_eq!(agree + listed.len(), 118);
    let distinct: BTreeSet<_> = listed.values().collect();
    assert!(!distinct.is_empty() || listed.is_empty());
}
