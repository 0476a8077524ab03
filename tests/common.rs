//! Helpers shared by the integration tests.

use std::path::{Path, PathBuf};

use kindling::Validation;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/<rel>` beside the repository.
pub fn corpus(rel: &str) -> PathBuf {
    root().join("../shared/corpus").join(rel)
}

/// Validate a file on disk.
pub fn validate_file(path: &Path) -> Validation {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    kindling::validate(&path.display().to_string(), bytes)
}

/// Validate a text.
pub fn validate_text(text: &str) -> Validation {
    kindling::validate("test.yaml", text.as_bytes().to_vec())
}

/// `(line, code, message)` of every finding.
pub fn lines(v: &Validation) -> Vec<(usize, &'static str, String)> {
    v.findings
        .iter()
        .map(|f| {
            (
                v.source.position(f.span.start).line,
                f.rule.code,
                f.message.clone(),
            )
        })
        .collect()
}

/// Read a TSV file with a header line into rows of cells.
pub fn tsv(path: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .skip(1)
        .filter(|l| !l.is_empty())
        .map(|l| l.split('\t').map(str::to_string).collect())
        .collect()
}

/// The rows of the markdown table under `heading` in a book page, cells trimmed and
/// backticks removed, header and separator rows skipped.
pub fn book_table(page: &str, heading: &str) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(root().join("book/src").join(page)).unwrap();
    let start = text
        .find(heading)
        .unwrap_or_else(|| panic!("{page} has no heading {heading:?}"));
    text[start..]
        .lines()
        .skip(1)
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|l| {
            l.trim()
                .trim_matches('|')
                .split(" | ")
                .map(|c| c.trim().replace('`', ""))
                .collect()
        })
        .collect()
}
