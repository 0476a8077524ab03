//! Helpers shared by the integration tests.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use kindling::Validation;

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `../shared/corpus/<rel>` beside the repository.
pub fn corpus(rel: &str) -> PathBuf {
    root().join("../shared/corpus").join(rel)
}

/// The `*.yaml` files of a directory, sorted.
pub fn yaml_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
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

/// A run of the binary, built up fluently and checked in one go (after casey/just).
pub struct Run {
    args: Vec<String>,
    stdin: Option<Vec<u8>>,
    files: Vec<(String, Vec<u8>)>,
    pub dir: tempfile::TempDir,
}

pub struct Output {
    pub status: i32,
    pub stdout: String,
    pub stderr: String,
    /// The directory the command ran in (kept alive as long as the output).
    pub dir: tempfile::TempDir,
}

impl Run {
    pub fn new(args: &[&str]) -> Self {
        Run {
            args: args.iter().map(|s| (*s).to_string()).collect(),
            stdin: None,
            files: Vec::new(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    pub fn file(mut self, name: &str, content: impl Into<Vec<u8>>) -> Self {
        self.files.push((name.to_string(), content.into()));
        self
    }

    /// An empty directory `name` in the working directory.
    pub fn dir(self, name: &str) -> Self {
        std::fs::create_dir_all(self.dir.path().join(name)).unwrap();
        self
    }

    pub fn stdin(mut self, content: &str) -> Self {
        self.stdin = Some(content.as_bytes().to_vec());
        self
    }

    pub fn run(self) -> Output {
        for (name, content) in &self.files {
            std::fs::write(self.dir.path().join(name), content).unwrap();
        }
        let mut child = Command::new(env!("CARGO_BIN_EXE_kindling"))
            .args(&self.args)
            .current_dir(self.dir.path())
            .env_remove("NO_COLOR")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        if let Some(bytes) = &self.stdin {
            stdin.write_all(bytes).unwrap();
        }
        drop(stdin);
        let out = child.wait_with_output().unwrap();
        Output {
            status: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
            dir: self.dir,
        }
    }
}

/// Every entry below `dir` (directories too, links not followed) with its metadata, in the
/// order of a depth-first walk: each directory's entries as `read_dir` lists them, the
/// directories found pushed on a stack and listed after.
pub fn tree(dir: &Path) -> Vec<(PathBuf, std::fs::Metadata)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p.clone());
            }
            out.push((p, meta));
        }
    }
    out
}
