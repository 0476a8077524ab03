//! Generated files stay in sync with the code: the JSON Schema (`schema/`), one book page
//! per diagnostic code (`book/src/codes/`), and the rules' own examples really trigger
//! their rule (and the fixed examples do not). Set `UPDATE_GENERATED=1` to rewrite the
//! files instead of failing.

use std::path::Path;

use kindling::rules;

use crate::support::common::{root, validate_text};

fn check_file(rel: &str, want: &str) {
    let path = root().join(rel);
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        have == want,
        "{rel} is out of date; run `UPDATE_GENERATED=1 cargo test --test integration generated`"
    );
}

#[test]
fn schema_is_current() {
    check_file(kindling::schema::PATH, &kindling::schema::render());
}

#[test]
fn config_reference_is_current() {
    check_file("book/src/reference.md", &kindling::schema::reference_page());
}

#[test]
fn cli_reference_is_current() {
    // The book's command-line reference is generated from the clap definitions, so a
    // flag added, renamed or re-documented shows up here (as coreos-installer's docs do).
    let page = kindling::cli::reference::reference_page();
    for needle in [
        "## `kindling agent run`",
        "--reboot-command",
        "## `kindling completions`",
    ] {
        assert!(page.contains(needle), "the reference lacks {needle}");
    }
    assert!(
        !page.contains("package-files"),
        "hidden commands are not documented"
    );
    check_file(kindling::cli::reference::PAGE, &page);
}

#[test]
fn codes_index_is_current() {
    check_file("book/src/codes.md", &rules::codes_page());
}

#[test]
fn schema_describes_the_dialect() {
    let schema = kindling::schema::generate();
    let text = schema.to_string();
    for needle in [
        "reboot-strategy",
        "reboot_strategy",
        "drop-ins",
        "write_files",
        "x-kindling-extension",
        "deprecated",
    ] {
        assert!(text.contains(needle), "schema lacks {needle}");
    }
    // A document root that allows only the dialect's keys.
    assert_eq!(
        schema["additionalProperties"],
        serde_json::Value::Bool(false)
    );
}

#[test]
fn book_has_a_current_page_per_code() {
    let mut listed = String::new();
    for rule in rules::ALL {
        check_file(
            &format!("book/src/{}", rule.doc_path()),
            &rules::book_page(rule),
        );
        listed.push_str(&format!("  - [{}]({})\n", rule.code, rule.doc_path()));
    }
    // SUMMARY.md lists every code under "Diagnostic codes", generated from the catalogue.
    let summary = std::fs::read_to_string(root().join("book/src/SUMMARY.md")).unwrap();
    let marker = "- [Diagnostic codes](codes.md)\n";
    let head =
        &summary[..summary.find(marker).expect("SUMMARY.md has the codes line") + marker.len()];
    check_file("book/src/SUMMARY.md", &format!("{head}{listed}"));
    // No page without a rule.
    let codes = root().join("book/src/codes");
    for area in std::fs::read_dir(&codes).unwrap() {
        let area = area.unwrap().path();
        if !area.is_dir() {
            continue;
        }
        for page in std::fs::read_dir(&area).unwrap() {
            let page = page.unwrap().path();
            let slug = format!(
                "{}/{}",
                area.file_name().unwrap().to_string_lossy(),
                Path::new(&page).file_stem().unwrap().to_string_lossy()
            );
            assert!(
                rules::find(&slug).is_some(),
                "{} documents no rule",
                page.display()
            );
        }
    }
}

#[test]
fn codes_are_unique_and_well_formed() {
    let mut seen = std::collections::BTreeSet::new();
    for rule in rules::ALL {
        assert!(seen.insert(rule.code), "duplicate code {}", rule.code);
        assert!(
            rule.code.starts_with("kindling::") && rule.code.split("::").count() == 3,
            "{}",
            rule.code
        );
        assert!(
            rule.code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == ':' || c == '-'),
            "{}",
            rule.code
        );
        assert!(!rule.summary.is_empty() && !rule.help.is_empty() && !rule.explanation.is_empty());
    }
}

#[test]
fn rule_examples_trigger_their_rule() {
    let mut failures = Vec::new();
    for rule in rules::ALL {
        assert!(
            !rule.example.is_empty() && !rule.fixed.is_empty(),
            "{} has no example",
            rule.code
        );
        if rule.example.starts_with("$ ") {
            // A console transcript (gzip, UTF-8): covered by the source module's tests.
            continue;
        }
        let findings = |text: &str| {
            if rule.code.starts_with("kindling::compile::") {
                let options = kindling::compile::Options {
                    target: kindling::compile::Target::Ignition,
                    vars: std::collections::BTreeMap::new(),
                    plan: kindling::plan::PlanOptions::default(),
                };
                kindling::compile::compile("example.yaml", text.as_bytes().to_vec(), &options)
                    .findings
            } else if let Some(reader) = reader_of(rule.code) {
                // The reader rules speak only when asked for a reader (`validate --for`).
                let mut v = validate_text(text);
                kindling::validate::check_for(&mut v, reader);
                v.findings
            } else {
                validate_text(text).findings
            }
        };
        let bad = findings(rule.example);
        if !bad.iter().any(|f| f.rule.code == rule.code) {
            failures.push(format!(
                "{}: example does not trigger it: {bad:?}",
                rule.code
            ));
        }
        let good = findings(rule.fixed);
        let left: Vec<_> = good
            .iter()
            .filter(|f| {
                f.rule.code == rule.code || f.severity == kindling::diagnostic::Severity::Error
            })
            .collect();
        if !left.is_empty() && rule.code != "kindling::source::skipped" {
            failures.push(format!("{}: fixed example still has {left:?}", rule.code));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The reader a `kindling::reader::` rule is about (`validate --for`).
fn reader_of(code: &str) -> Option<kindling::validate::Reader> {
    use kindling::validate::Reader;
    match code {
        "kindling::reader::ignored" | "kindling::reader::rejected" => Some(Reader::CoreosCloudinit),
        "kindling::reader::not-read" => Some(Reader::Ignition),
        _ => None,
    }
}
