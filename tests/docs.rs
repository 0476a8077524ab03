//! The README's and the book's shell examples are tests. Every fenced block in README.md and
//! in the book's pages (book/src/SUMMARY.md's order; the generated `codes/` pages excepted)
//! whose language is a shell's is one of three kinds, by its info string:
//!
//! - `console`: run. Each `$ ` line is a command (a trailing `\` continues it), run by `sh`
//!   in a copy of the repository's tracked files (what a fresh clone has) with the built
//!   `kindling` first on `PATH`; the lines after it, up to the next `$ `, are its output
//!   (standard output and standard error, as a terminal shows them), matched with snapbox
//!   (`...` on a line of its own: any lines; `[..]`: any text within a line). A command
//!   exits 0 unless its comment says `# exit N`. The pages run in order in one copy, so a
//!   page may use what an earlier one made. The few commands the test environment has
//!   already done (`scripts/setup`, `cargo build --release`, ... in [`GIVEN`]) are not run
//!   again; `cargo run --release --` is the built binary.
//! - `sh,synopsis`: a command's shape, not run: every `--flag` in it must be in the named
//!   command's (or one of its named subcommands') `--help`.
//! - `console,needs=WHAT` or `sh,needs=WHAT`: needs etcd, a server, root, the network or a
//!   tool the test machine may lack; not run here. Each is listed in tests/docs-not-run.txt
//!   with the integration test that runs its commands (or `script:PATH` for a benchmark's
//!   commands, which its script runs), and the list must match the pages.
//!
//! Any other shell block is an error, so no example is skipped unknowingly.
//!
//! `KINDLING_DOCS_FRESH_CLONE=1` runs the pages in a literal `git clone` of the committed
//! HEAD instead of a copy of the work tree's tracked files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag};

use crate::support::common::root;

/// Commands the test environment has already run (CI: `scripts/setup`, then `scripts/test`,
/// which builds the binary and runs this test); not run again.
const GIVEN: &[&str] = &[
    "scripts/setup",
    "scripts/test",
    "cargo build --release",
    "cargo install --locked --path .",
];

/// The longest one documented command may take.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// A page of the docs: its name (relative to the repository) and text.
#[derive(Clone)]
pub struct Page {
    pub name: String,
    pub text: String,
}

/// README.md, then the book's pages in SUMMARY.md's order (not the generated `codes/` pages,
/// whose examples are the rules' own).
pub fn pages() -> Vec<Page> {
    let root = root();
    let read = |rel: &str| Page {
        name: rel.to_string(),
        text: std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}")),
    };
    let mut pages = vec![read("README.md")];
    let summary = std::fs::read_to_string(root.join("book/src/SUMMARY.md")).unwrap();
    for line in summary.lines() {
        let Some(start) = line.find("](") else {
            continue;
        };
        let rest = &line[start + 2..];
        let Some(end) = rest.find(')') else { continue };
        let page = &rest[..end];
        if !page.starts_with("codes/") {
            pages.push(read(&format!("book/src/{page}")));
        }
    }
    pages
}

/// A fenced code block.
#[derive(Debug)]
struct Block {
    page: String,
    /// The line of the opening fence (1-based).
    line: usize,
    info: String,
    body: String,
}

fn blocks(page: &Page) -> Vec<Block> {
    let mut out = Vec::new();
    let mut current: Option<Block> = None;
    for (event, range) in Parser::new(&page.text).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some(Block {
                    page: page.name.clone(),
                    line: page.text[..range.start].matches('\n').count() + 1,
                    info: info.to_string(),
                    body: String::new(),
                });
            }
            Event::Text(text) => {
                if let Some(b) = current.as_mut() {
                    b.body.push_str(&text);
                }
            }
            Event::End(pulldown_cmark::TagEnd::CodeBlock) => out.extend(current.take()),
            _ => {}
        }
    }
    out
}

/// What the harness does with a block.
#[derive(Debug, PartialEq)]
enum Kind {
    Run,
    Synopsis,
    NotRun(String),
    NotShell,
}

fn kind(info: &str) -> Result<Kind, String> {
    let mut parts = info.split(',').map(str::trim);
    let lang = parts.next().unwrap_or("");
    let attrs: Vec<&str> = parts.collect();
    if !["console", "sh", "bash", "shell", "shell-session"].contains(&lang) {
        return Ok(Kind::NotShell);
    }
    match attrs.as_slice() {
        [] if lang == "console" => Ok(Kind::Run),
        ["synopsis"] if lang == "sh" => Ok(Kind::Synopsis),
        [needs] if needs.starts_with("needs=") && needs.len() > "needs=".len() => {
            Ok(Kind::NotRun(needs["needs=".len()..].to_string()))
        }
        _ => Err(format!(
            "a shell block must be `console` (run, its output checked), `sh,synopsis` (flags \
             checked) or `console,needs=WHAT` (listed in tests/docs-not-run.txt); this one is \
             ```{info}"
        )),
    }
}

/// One `$ ` command of a console block with the output the page shows.
#[derive(Debug)]
struct Step {
    line: usize,
    command: String,
    output: String,
    status: i32,
}

fn steps(block: &Block) -> Result<Vec<Step>, String> {
    let mut out: Vec<Step> = Vec::new();
    let mut continuing = false;
    for (i, line) in block.body.lines().enumerate() {
        let n = block.line + 1 + i;
        if continuing {
            let step = out.last_mut().unwrap();
            step.command.push('\n');
            step.command.push_str(line);
            continuing = line.ends_with('\\');
        } else if let Some(command) = line.strip_prefix("$ ") {
            continuing = command.ends_with('\\');
            out.push(Step {
                line: n,
                command: command.to_string(),
                output: String::new(),
                status: 0,
            });
        } else {
            let Some(step) = out.last_mut() else {
                return Err(format!(
                    "{}:{n}: output before the first `$ ` command",
                    block.page
                ));
            };
            step.output.push_str(line);
            step.output.push('\n');
        }
    }
    for step in &mut out {
        step.status = exit_status(&step.command);
    }
    Ok(out)
}

/// `# exit N` in the command's comment; else 0.
fn exit_status(command: &str) -> i32 {
    command
        .find("# exit ")
        .and_then(|i| {
            let digits: String = command[i + "# exit ".len()..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .unwrap_or(0)
}

/// Where the pages' commands run: a copy of the repository's tracked files, the binary on
/// `PATH`, a home of its own.
pub struct Sandbox {
    _dir: tempfile::TempDir,
    clone: PathBuf,
    bin: PathBuf,
    home: PathBuf,
    /// The working directory: the clone, or where a page's `cd` went (a shell keeps it).
    cwd: std::cell::RefCell<PathBuf>,
}

impl Sandbox {
    pub fn new() -> Sandbox {
        let dir = tempfile::tempdir().unwrap();
        let clone = dir.path().join("kindling");
        let bin = dir.path().join("bin");
        let home = dir.path().join("home");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        let exe = PathBuf::from(env!("CARGO_BIN_EXE_kindling"));
        std::os::unix::fs::symlink(&exe, bin.join("kindling")).unwrap();
        if std::env::var_os("KINDLING_DOCS_FRESH_CLONE").is_some() {
            // A literal fresh clone of the committed HEAD (uncommitted changes left out).
            let out = Command::new("git")
                .args(["clone", "--quiet", "--no-hardlinks"])
                .arg(root())
                .arg(&clone)
                .output()
                .expect("git clone");
            assert!(
                out.status.success(),
                "git clone: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            return Sandbox::finish(dir, clone, bin, home, &exe);
        }
        let listed = Command::new("git")
            .args(["ls-files", "-z"])
            .current_dir(root())
            .output()
            .expect("git ls-files (the docs run in a copy of the tracked files)");
        assert!(listed.status.success(), "git ls-files failed");
        for rel in listed.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()) {
            let rel = Path::new(std::str::from_utf8(rel).unwrap());
            let from = root().join(rel);
            let to = clone.join(rel);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            let meta = std::fs::symlink_metadata(&from);
            match meta {
                Ok(m) if m.file_type().is_symlink() => {
                    std::os::unix::fs::symlink(std::fs::read_link(&from).unwrap(), &to).unwrap();
                }
                Ok(_) => {
                    std::fs::copy(&from, &to).unwrap();
                }
                // Deleted in the work tree, not yet committed: a clone of the work tree lacks it.
                Err(_) => {}
            }
        }
        Sandbox::finish(dir, clone, bin, home, &exe)
    }

    fn finish(
        dir: tempfile::TempDir,
        clone: PathBuf,
        bin: PathBuf,
        home: PathBuf,
        exe: &Path,
    ) -> Sandbox {
        // `cargo build --release` is given: its binary is where the quickstart runs it.
        std::fs::create_dir_all(clone.join("target/release")).unwrap();
        std::os::unix::fs::symlink(exe, clone.join("target/release/kindling")).unwrap();
        Sandbox {
            _dir: dir,
            cwd: std::cell::RefCell::new(clone.clone()),
            clone,
            bin,
            home,
        }
    }

    /// Run one command as `sh` would from the page; its exit status and its output.
    fn run(&self, command: &str) -> Result<(i32, String), String> {
        let out_path = self.home.join(".docs-output");
        let out = std::fs::File::create(&out_path).unwrap();
        let path = format!("{}:/usr/local/bin:/usr/bin:/bin", self.bin.display());
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(format!("exec 2>&1\n{command}"))
            .current_dir(&*self.cwd.borrow())
            .env_clear()
            .env("PATH", path)
            .env("HOME", &self.home)
            .env("LANG", "C.UTF-8")
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(out)
            .spawn()
            .map_err(|e| format!("sh: {e}"))?;
        let start = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if start.elapsed() > COMMAND_TIMEOUT {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("still running after {COMMAND_TIMEOUT:?}; killed"));
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        let output = String::from_utf8_lossy(&std::fs::read(&out_path).unwrap()).into_owned();
        Ok((status.code().unwrap_or(-1), output))
    }

    /// `kindling ARGS... --help`, kept per argument list.
    fn help(&self, cache: &mut BTreeMap<Vec<String>, String>, args: &[String]) -> String {
        cache
            .entry(args.to_vec())
            .or_insert_with(|| {
                let out = Command::new(env!("CARGO_BIN_EXE_kindling"))
                    .args(args)
                    .arg("--help")
                    .output()
                    .unwrap();
                String::from_utf8_lossy(&out.stdout).into_owned()
            })
            .clone()
    }
}

/// A block's commands run and their outputs checked; every failure found.
fn run_block(sandbox: &Sandbox, block: &Block, failures: &mut Vec<String>) {
    let steps = match steps(block) {
        Ok(s) => s,
        Err(e) => return failures.push(e),
    };
    if steps.is_empty() {
        failures.push(format!(
            "{}:{}: a console block without a `$ ` command",
            block.page, block.line
        ));
    }
    for step in steps {
        let at = format!("{}:{}: `{}`", block.page, step.line, step.command);
        let bare = step.command.split(" #").next().unwrap_or("").trim();
        if GIVEN.contains(&bare) {
            if !step.output.trim().is_empty() {
                failures.push(format!(
                    "{at}: a given command shows output the test cannot check"
                ));
            }
            continue;
        }
        if let Some(dir) = bare.strip_prefix("cd ") {
            let to = self_cd(sandbox, dir);
            if !to.is_dir() || !step.output.trim().is_empty() {
                failures.push(format!("{at}: no directory {}", to.display()));
            }
            *sandbox.cwd.borrow_mut() = to;
            continue;
        }
        let command = step.command.replace("cargo run --release -- ", "kindling ");
        let (status, output) = match sandbox.run(&command) {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{at}: {e}"));
                continue;
            }
        };
        if status != step.status {
            failures.push(format!(
                "{at}: exit status {status}, the page says {} (`# exit N` in the comment \
                 when it is not 0)\n{output}",
                step.status
            ));
            continue;
        }
        let expected = snapbox::Data::text(step.output.trim_end_matches('\n').to_string());
        let actual = snapbox::Data::text(output.trim_end_matches('\n').to_string());
        if let Err(e) = snapbox::Assert::new().normalize_paths(false).try_eq(
            Some(&"the command's output"),
            actual,
            expected,
        ) {
            failures.push(format!("{at}: the output is not what the page shows\n{e}"));
        }
    }
}

/// Where `cd DIR` goes from the sandbox's working directory.
fn self_cd(sandbox: &Sandbox, dir: &str) -> PathBuf {
    let mut to = sandbox.cwd.borrow().clone();
    for part in Path::new(dir).components() {
        match part {
            std::path::Component::ParentDir => {
                to.pop();
            }
            std::path::Component::Normal(p) => to.push(p),
            _ => {}
        }
    }
    to
}

/// Every `--flag` of a synopsis in its command's help.
fn check_synopsis(
    sandbox: &Sandbox,
    cache: &mut BTreeMap<Vec<String>, String>,
    block: &Block,
    failures: &mut Vec<String>,
) {
    // Logical lines: a line that does not start with `kindling` continues the one before.
    let mut logical: Vec<(usize, String)> = Vec::new();
    for (i, line) in block.body.lines().enumerate() {
        let line = line.split(" #").next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        match logical.last_mut() {
            Some((_, text)) if !line.starts_with("kindling") => {
                text.push(' ');
                text.push_str(line);
            }
            _ => logical.push((i, line.to_string())),
        }
    }
    for (i, line) in &logical {
        let at = format!("{}:{}", block.page, block.line + 1 + i);
        let line = line.as_str();
        if !line.starts_with("kindling ") {
            failures.push(format!("{at}: a synopsis line starts with `kindling`"));
            continue;
        }
        let words: Vec<&str> = line
            .split(|c: char| c.is_whitespace() || "|[]".contains(c))
            .filter(|w| {
                !w.is_empty()
                    && w.chars().all(|c| c.is_ascii_lowercase() || c == '-')
                    && !w.starts_with('-')
            })
            .collect();
        let first = words.get(1).copied();
        let Some(first) = first else {
            failures.push(format!("{at}: no command named"));
            continue;
        };
        // The command's help, and every subcommand's the line names (to any depth).
        let mut paths = vec![vec![first.to_string()]];
        let mut helps = String::new();
        let mut seen = BTreeSet::new();
        while let Some(path) = paths.pop() {
            if !seen.insert(path.clone()) {
                continue;
            }
            let help = sandbox.help(cache, &path);
            for sub in subcommands(&help) {
                if words.contains(&sub.as_str()) {
                    let mut p = path.clone();
                    p.push(sub);
                    paths.push(p);
                }
            }
            helps.push_str(&help);
        }
        if helps.is_empty() {
            failures.push(format!("{at}: `kindling {first}` is not a command"));
            continue;
        }
        for flag in flags(line) {
            if !has_flag(&helps, &flag) {
                failures.push(format!(
                    "{at}: `{flag}` is not an option of `kindling {first}` (nor of the \
                     subcommands the line names)"
                ));
            }
        }
    }
}

/// The subcommands a help text lists.
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next().map(str::to_string))
        .collect()
}

/// The `--long` options a line names.
fn flags(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("--") {
        let name: String = rest[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
            .collect();
        let preceded = i > 0 && !" [|(".contains(&rest[i - 1..i]);
        if !name.is_empty() && !preceded {
            out.push(format!("--{name}"));
        }
        rest = &rest[i + 2 + name.len()..];
    }
    out
}

fn has_flag(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(i, _)| {
        help[i + flag.len()..]
            .chars()
            .next()
            .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '-'))
    })
}

/// The outcome of running the pages: every failure, and the blocks not run.
pub struct Outcome {
    pub failures: Vec<String>,
    /// `page | needs | first line` of each block not run.
    pub not_run: Vec<String>,
    pub commands_run: usize,
}

/// Run every page's examples in order in one sandbox.
pub fn run_pages(pages: &[Page]) -> Outcome {
    let sandbox = Sandbox::new();
    let mut cache = BTreeMap::new();
    let mut outcome = Outcome {
        failures: Vec::new(),
        not_run: Vec::new(),
        commands_run: 0,
    };
    for page in pages {
        // Each page starts where a reader starts: at the top of the clone.
        *sandbox.cwd.borrow_mut() = sandbox.clone.clone();
        for block in blocks(page) {
            match kind(&block.info) {
                Err(e) => outcome
                    .failures
                    .push(format!("{}:{}: {e}", block.page, block.line)),
                Ok(Kind::NotShell) => {}
                Ok(Kind::Run) => {
                    outcome.commands_run += steps(&block).map(|s| s.len()).unwrap_or(0);
                    run_block(&sandbox, &block, &mut outcome.failures);
                }
                Ok(Kind::Synopsis) => {
                    check_synopsis(&sandbox, &mut cache, &block, &mut outcome.failures);
                }
                Ok(Kind::NotRun(needs)) => {
                    let first = block.body.lines().next().unwrap_or("").trim();
                    outcome
                        .not_run
                        .push(format!("{} | {needs} | {first}", block.page));
                }
            }
        }
    }
    outcome
}

/// tests/docs-not-run.txt: `page | needs | first line | integration test` per block.
fn listed_not_run() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("tests/docs-not-run.txt")).unwrap();
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (block, test) = l.rsplit_once(" | ").expect("page | needs | first | test");
            (block.to_string(), test.trim().to_string())
        })
        .collect()
}

#[test]
fn every_command_in_the_readme_and_the_book_works_as_shown() {
    let outcome = run_pages(&pages());
    assert!(
        outcome.failures.is_empty(),
        "{} of the docs' examples fail:\n\n{}",
        outcome.failures.len(),
        outcome.failures.join("\n\n")
    );
    assert!(
        outcome.commands_run >= 20,
        "{} commands",
        outcome.commands_run
    );
    // The blocks not run are exactly the listed ones, each with the test that runs it.
    let listed = listed_not_run();
    let listed_blocks: Vec<&String> = listed.iter().map(|(b, _)| b).collect();
    let found: Vec<&String> = outcome.not_run.iter().collect();
    assert_eq!(
        found, listed_blocks,
        "tests/docs-not-run.txt must list every block marked needs=..., in page order"
    );
    let sources: String = std::fs::read_dir(root().join("tests"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    for (block, test) in &listed {
        // A benchmark's commands run in its script (scripts/bench), not in the test suite.
        if let Some(script) = test.strip_prefix("script:") {
            assert!(root().join(script).is_file(), "{block}: no {script}");
            continue;
        }
        assert!(
            sources.contains(&format!("fn {test}(")),
            "{block}: no integration test named {test}"
        );
    }
}

/// The same pages with a wrong flag planted in a book page's command, and in a synopsis:
/// the run must fail, naming the page and line.
#[test]
fn a_planted_wrong_flag_in_a_book_page_fails() {
    let mut pages = pages();
    let quickstart = pages
        .iter_mut()
        .find(|p| p.name == "book/src/quickstart.md")
        .unwrap();
    let good = "kindling validate --format json examples/mistakes.yaml";
    assert!(quickstart.text.contains(good));
    quickstart.text = quickstart.text.replace(
        good,
        "kindling validate --formats json examples/mistakes.yaml",
    );
    let slots = pages
        .iter_mut()
        .find(|p| p.name == "book/src/slots.md")
        .unwrap();
    let synopsis = "kindling slots show [--disk IMG]";
    assert!(slots.text.contains(synopsis));
    slots.text = slots.text.replace(
        synopsis,
        "kindling slots show [--partuuid UUID] [--disk IMG]",
    );
    let only: Vec<Page> = pages
        .into_iter()
        .filter(|p| p.name.ends_with("quickstart.md") || p.name.ends_with("slots.md"))
        .collect();
    let outcome = run_pages(&only);
    let text = outcome.failures.join("\n");
    assert_eq!(outcome.failures.len(), 2, "{text}");
    assert!(
        text.contains("book/src/quickstart.md:")
            && text.contains("--formats")
            && text.contains("exit status 2"),
        "{text}"
    );
    assert!(
        text.contains("book/src/slots.md:") && text.contains("`--partuuid` is not an option"),
        "{text}"
    );
}

/// A changed output line fails too (snapbox's wildcards match only where the page has them).
#[test]
fn a_changed_output_line_fails() {
    let page = Page {
        name: "planted.md".into(),
        text:
            "```console\n$ kindling validate examples/update-window.yaml\n1 file: 9 errors\n```\n"
                .into(),
    };
    let outcome = run_pages(&[page]);
    assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
    assert!(
        outcome.failures[0].contains("planted.md:2"),
        "{}",
        outcome.failures[0]
    );
}

#[test]
fn an_unmarked_shell_block_fails() {
    let page = Page {
        name: "planted.md".into(),
        text: "```sh\nkindling validate x.yaml\n```\n".into(),
    };
    let outcome = run_pages(&[page]);
    assert_eq!(outcome.failures.len(), 1, "{:?}", outcome.failures);
    assert!(outcome.failures[0].contains("planted.md:1"));
}
