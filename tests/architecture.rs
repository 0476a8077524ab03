//! The rule catalogue is the ground the stages stand on: outside `check` (which runs the
//! rules), `cli` (which lists them) and the catalogue itself, code names a rule file only
//! for its `RULE` or `VALUE` static. Helpers live in the module that owns the idea
//! (`suggest::distance`, `root::clean`, `units::KNOWN_SECTIONS`, `reboot::parse_go_duration`,
//! `plan::agent::seconds`), never in a rule file, so no stage imports a rule's code.

use std::path::Path;

use crate::common::root;

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `rules::<file>::<item>` (or `rules::<file>::{`, `rules::<file>;`) a text names,
/// where `<file>` is a rule file (a lowercase module of the catalogue).
fn rule_file_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in text.match_indices("rules::") {
        let rest = &text[at + "rules::".len()..];
        let module: String = rest
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')
            .collect();
        // Lowercase names directly under `rules` that are not modules are the catalogue's
        // own functions (`rules::find`, `rules::book_page`): followed by `(`, never `::`.
        let after = &rest[module.len()..];
        if module.is_empty() || !(after.starts_with("::") || after.starts_with(';')) {
            continue;
        }
        let item: String = after
            .trim_start_matches("::")
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '{')
            .collect();
        out.push(format!("rules::{module}::{item}"));
    }
    out
}

#[test]
fn below_check_only_rule_and_value_statics_of_rule_files_are_named() {
    let src = root().join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut offenders = Vec::new();
    let mut seen_any = 0;
    for file in files {
        let rel = file
            .strip_prefix(&src)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if ["rules/", "check/", "cli/"]
            .iter()
            .any(|p| rel.starts_with(p))
        {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for name in rule_file_names(&text) {
            seen_any += 1;
            if !(name.ends_with("::RULE") || name.ends_with("::VALUE")) {
                offenders.push(format!("src/{rel}: {name}"));
            }
        }
    }
    // The scan finds the statics the stages do use (a scan that finds nothing proves nothing).
    assert!(seen_any > 20, "the scan found only {seen_any} names");
    assert!(
        offenders.is_empty(),
        "move these helpers out of the rule files, into the module that owns the idea:\n{}",
        offenders.join("\n")
    );
}

#[test]
fn the_scan_sees_helpers() {
    let names = rule_file_names(
        "use crate::rules::write_files_duplicate_path::clean;\nlet d = crate::rules::structure_unknown_key::distance(a, b);\nuse crate::rules::units_section::{KNOWN_SECTIONS};\nrules::yaml_syntax::RULE.at(s); rules::find(code)",
    );
    assert_eq!(
        names,
        [
            "rules::write_files_duplicate_path::clean",
            "rules::structure_unknown_key::distance",
            "rules::units_section::{KNOWN_SECTIONS",
            "rules::yaml_syntax::RULE",
        ]
    );
}
