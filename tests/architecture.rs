//! The floors of the house, enforced. Every module of `src/` stands on a floor of
//! [`FLOORS`], from the ground (what depends on nothing of kindling) to the command line;
//! a file may name only modules on lower floors (or its own module), and no files may name
//! each other in a circle, inside a module or across modules.
//!
//! What a file names is read from the code itself: every `crate::`, `super::` and `self::`
//! path, brace groups (`use crate::{a, b::{c, d as e}}`) taken apart, aliases seen through,
//! and paths into the file's own child modules; unit tests (`#[cfg(test)] mod ...`),
//! comments and string literals are left out. A path is resolved to the file that defines
//! its last name, following `pub use` re-exports, so a `mod.rs` that only hands a name on
//! is not counted as the one who defines it. The analysis is tested on planted trees, and
//! on the real tree with a back-edge planted into it, so a check that sees nothing fails.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use crate::support::common::root;

/// The floors, from the ground up. A module may import modules of lower floors only;
/// modules on one floor do not import each other. A new top-level module must be given a
/// floor here (the test fails until it is).
const FLOORS: &[&[&str]] = &[
    // The ground: findings, and small pure tools with no idea of a cloud-config.
    &[
        "diagnostic",
        "suggest",
        "encoding",
        "xml",
        "root",
        "calendar",
        "wait",
        "causes",
        "http_serve",
    ],
    // The rule catalogue: data only (codes, severities, help, book text).
    &["rules"],
    // Reading input: user-data, the spanned YAML tree; unit files; reboot windows.
    &["source", "units", "reboot"],
    // The typed config.
    &["model"],
    // Files and actions planned from a config.
    &["plan"],
    // Findings about a config.
    &["check"],
    // Templates rendered per node (rendering only).
    &["template"],
    // The one validation entry point.
    &["validate"],
    // Compiling, rendering findings, emitting plans and schemas, diffs.
    &["compile", "report", "emit", "diff", "schema"],
    // The node's parts: converging a root, the Omaha protocol, the slots, payloads, the lock,
    // D-Bus.
    &["apply", "omaha", "slots", "payload", "lock", "bus"],
    // What stands on them: the boot-time datasources, the update server, and the machine
    // itself (its ids, update.conf settings, the health check) as the agent and fleet see it.
    &["datasource", "update_server", "machine", "postinstall"],
    // The fleet in etcd.
    &["fleet", "fuzzing"],
    // The update agent, and the fleet's dashboard (`fleet serve`).
    &["agent", "dashboard"],
    // The command line.
    &["cli"],
];

/// One file's names, by module path (`["fleet", "store"]`; the crate root is `[]`).
#[derive(Debug, Default)]
struct Module {
    /// The path of the file, for messages.
    file: String,
    /// Items defined in the file (fn, struct, enum, trait, type, const, static, macro, inline mod).
    defines: BTreeSet<String>,
    /// `pub use` re-exports: name -> absolute path of what it re-exports.
    reexports: BTreeMap<String, Vec<String>>,
    /// Child modules declared with `mod x;`.
    children: BTreeSet<String>,
    /// Every path the file names, absolute.
    paths: Vec<Vec<String>>,
}

/// What the analysis found.
#[derive(Debug, Default)]
struct Report {
    /// `file -> file (module -> module)` imports from a lower floor to a higher or equal one.
    back_edges: Vec<String>,
    /// Files that import each other in a loop.
    circles: Vec<Vec<String>>,
    /// Top-level modules without a floor.
    unplaced: BTreeSet<String>,
    /// Items `lib.rs` defines (it may only declare modules and re-export).
    root_defines: Vec<String>,
    /// How many file-to-file edges were seen (a scan that sees none proves nothing).
    edges: usize,
}

/// Blanks out comments, string and char literals (keeping lengths is not needed).
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'/' && b.get(i + 1) == Some(&b'/') {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if c == b'/' && b.get(i + 1) == Some(&b'*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                    depth += 1;
                    i += 2;
                } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c == b'r'
            && (b.get(i + 1) == Some(&b'"') || b.get(i + 1) == Some(&b'#'))
            // `r"..."`, and `br"..."` (a byte string's `b` before it).
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')
                || (b[i - 1] == b'b'
                    && (i == 1 || !(b[i - 2].is_ascii_alphanumeric() || b[i - 2] == b'_'))))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&b'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&b'"') {
                out.push('r');
                i += 1;
                continue;
            }
            j += 1;
            let close: Vec<u8> = std::iter::once(b'"')
                .chain(std::iter::repeat_n(b'#', hashes))
                .collect();
            while j < b.len() && !b[j..].starts_with(&close) {
                j += 1;
            }
            i = j + close.len();
            out.push_str("\"\"");
        } else if c == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    i += 1;
                }
                i += 1;
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == b'\'' {
            // A char literal ('a', '\n', '\u{..}') or a lifetime ('a).
            let rest = &text[i..];
            let lit = if let Some(escaped) = rest.strip_prefix("'\\") {
                escaped.find('\'').map(|e| e + 3)
            } else {
                let mut chars = rest[1..].char_indices();
                match (chars.next(), chars.next()) {
                    (Some((_, _)), Some((at, '\''))) => Some(at + 2),
                    _ => None,
                }
            };
            match lit {
                Some(len) => {
                    out.push_str("' '");
                    i += len;
                }
                None => {
                    out.push('\'');
                    i += 1;
                }
            }
        } else {
            let ch = text[i..].chars().next().unwrap();
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    out
}

/// Removes `#[cfg(test)]` items that are modules with a body (unit tests).
fn without_tests(text: &str) -> String {
    let mut out = text.to_owned();
    while let Some(at) = out.find("#[cfg(test)]") {
        let after = &out[at + "#[cfg(test)]".len()..];
        let trimmed = after.trim_start();
        let skip = after.len() - trimmed.len();
        let is_mod = trimmed.starts_with("mod ") || trimmed.starts_with("pub mod ");
        let open = trimmed.find(['{', ';']);
        let body_start = at + "#[cfg(test)]".len() + skip;
        match open {
            Some(o) if is_mod && trimmed.as_bytes()[o] == b'{' => {
                let bytes = out.as_bytes();
                let mut depth = 0;
                let mut end = body_start + o;
                for (k, &c) in bytes.iter().enumerate().skip(body_start + o) {
                    if c == b'{' {
                        depth += 1;
                    } else if c == b'}' {
                        depth -= 1;
                        if depth == 0 {
                            end = k + 1;
                            break;
                        }
                    }
                }
                out.replace_range(at..end, "");
            }
            _ => out.replace_range(at..at + "#[cfg(test)]".len(), ""),
        }
    }
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits a brace group's inside at its top-level commas.
fn split_top(inner: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut depth = 0;
    let mut cur = String::new();
    for c in inner.chars() {
        match c {
            '{' => depth += 1,
            '}' => depth -= 1,
            _ => {}
        }
        if c == ',' && depth == 0 {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(c);
        }
    }
    parts.push(cur);
    parts.into_iter().filter(|p| !p.trim().is_empty()).collect()
}

/// The paths one `use` tree names, each as segments (aliases dropped, `self` folded).
fn expand_tree(prefix: &[String], tree: &str, out: &mut Vec<Vec<String>>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let close = tree.rfind('}').unwrap_or(tree.len());
        let mut base = prefix.to_vec();
        base.extend(
            head.split("::")
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned),
        );
        for part in split_top(&tree[open + 1..close]) {
            expand_tree(&base, &part, out);
        }
        return;
    }
    let path = tree.split(" as ").next().unwrap_or(tree).trim();
    let mut segs = prefix.to_vec();
    for s in path.split("::").map(str::trim).filter(|s| !s.is_empty()) {
        if s == "self" {
            continue;
        }
        segs.push(s.to_owned());
    }
    out.push(segs);
}

/// Makes a path absolute from the module it is written in.
fn absolute(me: &[String], children: &BTreeSet<String>, segs: &[String]) -> Option<Vec<String>> {
    let first = segs.first()?;
    match first.as_str() {
        "crate" => Some(segs[1..].to_vec()),
        "self" => {
            let mut p = me.to_vec();
            p.extend_from_slice(&segs[1..]);
            Some(p)
        }
        "super" => {
            let mut p = me.to_vec();
            let mut rest = segs;
            while rest.first().is_some_and(|s| s == "super") {
                p.pop();
                rest = &rest[1..];
            }
            p.extend_from_slice(rest);
            Some(p)
        }
        name if children.contains(name) => {
            let mut p = me.to_vec();
            p.extend_from_slice(segs);
            Some(p)
        }
        _ => None,
    }
}

/// Reads one file's definitions, re-exports, children and named paths.
fn read_module(file: &str, me: &[String], text: &str) -> Module {
    let code = without_tests(&strip(text));
    let mut m = Module {
        file: file.to_owned(),
        ..Module::default()
    };
    let words: Vec<&str> = code
        .split(|c: char| !(is_ident(c) || c == '!'))
        .filter(|w| !w.is_empty())
        .collect();
    for w in words.windows(2) {
        if matches!(
            w[0],
            "fn" | "struct"
                | "enum"
                | "trait"
                | "type"
                | "const"
                | "static"
                | "union"
                | "macro_rules!"
        ) {
            m.defines.insert(w[1].trim_end_matches('!').to_owned());
        }
    }
    // `mod x;` declares a child file; `mod x {` defines an inline module.
    for line in code.lines() {
        let l = line.trim();
        let l = l.strip_prefix("pub(crate) ").unwrap_or(l);
        let l = l.strip_prefix("pub ").unwrap_or(l);
        if let Some(rest) = l.strip_prefix("mod ") {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if rest[name.len()..].trim_start().starts_with(';') {
                m.children.insert(name);
            } else {
                m.defines.insert(name);
            }
        }
    }
    // `use` trees (including `pub use`), whole statements up to `;`.
    let mut rest = code.as_str();
    let mut uses = Vec::new();
    while let Some(at) = rest.find("use ") {
        let before = rest[..at].chars().last();
        rest = &rest[at + 4..];
        if before.is_some_and(is_ident) {
            continue;
        }
        let Some(end) = rest.find(';') else { break };
        let public = {
            let head = &code[..code.len() - rest.len() - 4];
            let t = head.trim_end();
            t.ends_with("pub") || t.ends_with(')')
        };
        uses.push((public, rest[..end].to_owned()));
        rest = &rest[end..];
    }
    for (public, tree) in &uses {
        let mut expanded = Vec::new();
        expand_tree(&[], tree, &mut expanded);
        for (segs, alias) in expanded.into_iter().zip(aliases(tree)) {
            if let Some(abs) = absolute(me, &m.children, &segs) {
                if *public && let Some(last) = alias.or_else(|| abs.last().cloned()) {
                    m.reexports.insert(last, abs.clone());
                }
                m.paths.push(abs);
            }
        }
    }
    // Paths in code: `crate::a::b`, `super::x`, `self::y`, `child::z`.
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        if is_ident(bytes[i]) && (i == 0 || !(is_ident(bytes[i - 1]) || bytes[i - 1] == ':')) {
            let mut j = i;
            while j < bytes.len() && (is_ident(bytes[j]) || bytes[j] == ':') {
                j += 1;
            }
            let token: String = bytes[i..j].iter().collect();
            // `a::b::{...}` is a brace group, read with its `use` above: the bare prefix
            // names no item. `a::b::<T>` (a turbofish) names `a::b`.
            let brace = bytes[j..].iter().find(|c| !c.is_whitespace()) == Some(&'{');
            if token.contains("::") && !(token.ends_with("::") && brace) {
                let segs: Vec<String> = token
                    .split("::")
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if let Some(abs) = absolute(me, &m.children, &segs) {
                    m.paths.push(abs);
                }
            }
            i = j;
        } else {
            i += 1;
        }
    }
    m
}

/// The alias of each path a `use` tree names, in `expand_tree`'s order.
fn aliases(tree: &str) -> Vec<Option<String>> {
    let mut out = Vec::new();
    fn walk(tree: &str, out: &mut Vec<Option<String>>) {
        let tree = tree.trim();
        if let Some(open) = tree.find('{') {
            let close = tree.rfind('}').unwrap_or(tree.len());
            for part in split_top(&tree[open + 1..close]) {
                walk(&part, out);
            }
            return;
        }
        out.push(tree.split(" as ").nth(1).map(|a| a.trim().to_owned()));
    }
    walk(tree, &mut out);
    out
}

/// The module path of a file under `src/` (`fleet/store.rs` -> `["fleet", "store"]`).
fn module_path(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel
        .trim_end_matches(".rs")
        .split('/')
        .map(str::to_owned)
        .collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

/// Resolves an absolute path to the file (module path) that defines what it names.
fn resolve(
    modules: &BTreeMap<Vec<String>, Module>,
    path: &[String],
    depth: usize,
) -> Option<Vec<String>> {
    // The longest prefix that is a file.
    let mut k = path.len();
    while k > 0 && !modules.contains_key(&path[..k]) {
        k -= 1;
    }
    if k == 0 && !modules.contains_key(&Vec::new()) {
        return None;
    }
    let owner = path[..k].to_vec();
    let Some(name) = path.get(k) else {
        return Some(owner);
    };
    let module = &modules[&owner];
    if module.defines.contains(name) || depth > 8 {
        return Some(owner);
    }
    if let Some(target) = module.reexports.get(name) {
        let mut next = target.clone();
        next.extend_from_slice(&path[k + 1..]);
        if next != path
            && let Some(found) = resolve(modules, &next, depth + 1)
        {
            return Some(found);
        }
    }
    if name == "*" {
        return Some(owner);
    }
    // A glob re-export (`pub use x::*`) or an item made by a macro: the module itself.
    Some(owner)
}

/// The analysis over a whole tree: `files` maps paths under `src/` to their text.
fn analyse(files: &BTreeMap<String, String>) -> Report {
    let mut modules = BTreeMap::new();
    for (rel, text) in files {
        if rel == "main.rs" {
            continue;
        }
        let me = module_path(rel);
        modules.insert(me.clone(), read_module(rel, &me, text));
    }
    let floor_of = |top: &str| FLOORS.iter().position(|f| f.contains(&top));
    let mut report = Report::default();
    let mut graph: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (me, module) in &modules {
        for path in &module.paths {
            let Some(target) = resolve(&modules, path, 0) else {
                continue;
            };
            if &target == me {
                continue;
            }
            // The crate root only declares modules: naming `crate::x` is naming x.
            if target.is_empty() {
                continue;
            }
            graph.entry(me.clone()).or_default().insert(target);
        }
    }
    for (from, targets) in &graph {
        report.edges += targets.len();
        let Some(top_from) = from.first() else {
            continue;
        };
        for to in targets {
            let top_to = &to[0];
            if top_from == top_to {
                continue;
            }
            match (floor_of(top_from), floor_of(top_to)) {
                (Some(a), Some(b)) if b >= a => report.back_edges.push(format!(
                    "src/{} -> src/{} ({top_from} on floor {} names {top_to} on floor {})",
                    modules[from].file,
                    modules[to].file,
                    a + 1,
                    b + 1
                )),
                (None, _) => {
                    report.unplaced.insert(top_from.clone());
                }
                (_, None) => {
                    report.unplaced.insert(top_to.clone());
                }
                _ => {}
            }
        }
    }
    // The crate root only declares modules and re-exports: code there would stand on no floor.
    if let Some(lib) = modules.get(&Vec::new()) {
        report.root_defines = lib.defines.iter().cloned().collect();
    }
    for module in modules.keys() {
        if let Some(top) = module.first()
            && floor_of(top).is_none()
        {
            report.unplaced.insert(top.clone());
        }
    }
    report.circles = circles(&graph)
        .into_iter()
        .map(|c| {
            c.iter()
                .map(|m| format!("src/{}", modules[m].file))
                .collect()
        })
        .collect();
    report
}

/// The strongly connected components of more than one file (Tarjan's algorithm).
fn circles(graph: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>) -> Vec<Vec<Vec<String>>> {
    struct State<'a> {
        graph: &'a BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        index: BTreeMap<&'a Vec<String>, usize>,
        low: BTreeMap<&'a Vec<String>, usize>,
        on_stack: BTreeSet<&'a Vec<String>>,
        stack: Vec<&'a Vec<String>>,
        next: usize,
        out: Vec<Vec<Vec<String>>>,
    }
    fn visit<'a>(s: &mut State<'a>, v: &'a Vec<String>) {
        s.index.insert(v, s.next);
        s.low.insert(v, s.next);
        s.next += 1;
        s.stack.push(v);
        s.on_stack.insert(v);
        if let Some(targets) = s.graph.get(v) {
            for w in targets {
                // Only files that have edges of their own can be in a circle.
                let Some((w, _)) = s.graph.get_key_value(w) else {
                    continue;
                };
                if !s.index.contains_key(w) {
                    visit(s, w);
                    let low = s.low[w].min(s.low[v]);
                    s.low.insert(v, low);
                } else if s.on_stack.contains(w) {
                    let low = s.index[w].min(s.low[v]);
                    s.low.insert(v, low);
                }
            }
        }
        if s.low[v] == s.index[v] {
            let mut component = Vec::new();
            while let Some(w) = s.stack.pop() {
                s.on_stack.remove(w);
                component.push(w.clone());
                if w == v {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                s.out.push(component);
            }
        }
    }
    let mut s = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        on_stack: BTreeSet::new(),
        stack: Vec::new(),
        next: 0,
        out: Vec::new(),
    };
    for v in graph.keys() {
        if !s.index.contains_key(v) {
            visit(&mut s, v);
        }
    }
    s.out
}

fn rust_files(dir: &Path, base: &Path, out: &mut BTreeMap<String, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(base)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.insert(rel, std::fs::read_to_string(&path).unwrap());
        }
    }
}

fn the_tree() -> BTreeMap<String, String> {
    let src = root().join("src");
    let mut files = BTreeMap::new();
    rust_files(&src, &src, &mut files);
    files
}

fn explain(report: &Report) -> String {
    let mut text = String::new();
    if !report.unplaced.is_empty() {
        text.push_str(&format!(
            "modules without a floor (add them to FLOORS): {:?}\n",
            report.unplaced
        ));
    }
    if !report.root_defines.is_empty() {
        text.push_str(&format!(
            "src/lib.rs defines {:?}: it may only declare modules and re-export; move them to a module on a floor\n",
            report.root_defines
        ));
    }
    if !report.back_edges.is_empty() {
        text.push_str("imports that run back up (or across one floor):\n");
        for e in &report.back_edges {
            text.push_str(&format!("  {e}\n"));
        }
    }
    for c in &report.circles {
        text.push_str(&format!("a circle: {}\n", c.join(" <-> ")));
    }
    text
}

#[test]
fn every_module_imports_only_lower_floors_and_no_files_form_a_circle() {
    let report = analyse(&the_tree());
    // The scan sees the tree's imports (one that sees nothing proves nothing).
    assert!(
        report.edges > 300,
        "the scan saw only {} edges",
        report.edges
    );
    let text = explain(&report);
    assert!(text.is_empty(), "{text}");
}

/// Whether the report names a back-edge that starts `from -> to`.
fn has_back_edge(report: &Report, edge: &str) -> bool {
    report.back_edges.iter().any(|e| e.starts_with(edge))
}

fn planted(files: &[(&str, &str)]) -> BTreeMap<String, String> {
    files
        .iter()
        .map(|(p, t)| ((*p).to_owned(), (*t).to_owned()))
        .collect()
}

#[test]
fn a_back_edge_planted_in_the_real_tree_is_found_through_a_brace_import_and_an_alias() {
    let mut files = the_tree();
    let diagnostic = files.get_mut("diagnostic.rs").unwrap();
    diagnostic.push_str("\nuse crate::{cli::{self as command_line}};\n");
    let report = analyse(&files);
    assert!(
        has_back_edge(&report, "src/diagnostic.rs -> src/cli/mod.rs"),
        "{}",
        explain(&report)
    );
}

#[test]
fn back_edges_and_circles_are_found_in_every_spelling() {
    let files = planted(&[
        (
            "lib.rs",
            "pub mod diagnostic;\npub mod model;\npub mod check;\n",
        ),
        // A brace import with an alias, from the ground up to `check`.
        (
            "diagnostic.rs",
            "use crate::{model::Thing, check::{Context as Ctx}};\npub struct Finding;\n",
        ),
        ("model/mod.rs", "mod read;\npub use read::Thing;\n"),
        // A circle inside `model`, through `super::` and a re-export.
        (
            "model/read.rs",
            "pub struct Thing;\nfn f() { super::other::g(); }\n",
        ),
        (
            "model/other.rs",
            "pub fn g() { crate::model::read::Thing; }\n",
        ),
        // A path in code, not in a `use`.
        (
            "check/mod.rs",
            "pub struct Context;\nfn f() { let _ = crate::diagnostic::Finding; }\n",
        ),
        // Tests, comments and strings are not imports.
        (
            "check/tests_only.rs",
            "// crate::cli::X\nconst S: &str = \"crate::cli::Y\";\n#[cfg(test)]\nmod tests { use crate::cli::Z; }\n",
        ),
    ]);
    let report = analyse(&files);
    let text = explain(&report);
    assert!(
        has_back_edge(&report, "src/diagnostic.rs -> src/model/read.rs"),
        "the re-exported name resolves to its defining file:\n{text}"
    );
    assert!(
        has_back_edge(&report, "src/diagnostic.rs -> src/check/mod.rs"),
        "an aliased import inside nested braces:\n{text}"
    );
    assert!(
        report.circles.iter().any(|c| c
            == &[
                "src/model/other.rs".to_owned(),
                "src/model/read.rs".to_owned()
            ]),
        "a circle through super:: and a path in code:\n{text}"
    );
    assert!(
        report
            .circles
            .iter()
            .any(|c| c.contains(&"src/check/mod.rs".to_owned())
                && c.contains(&"src/diagnostic.rs".to_owned())),
        "a circle across modules:\n{text}"
    );
    assert!(
        !text.contains("cli"),
        "comments, strings and unit tests are not imports:\n{text}"
    );
}

#[test]
fn the_strip_keeps_code_and_drops_literals() {
    let code = strip(
        "let a = 'x'; let b: &'static str = \"crate::cli\"; // crate::agent\nfn f<'a>() {} let r = r#\"crate::fleet\"#;",
    );
    assert!(!code.contains("cli") && !code.contains("agent") && !code.contains("fleet"));
    assert!(code.contains("fn f<'a>()"), "{code}");
}

#[test]
fn a_turbofish_a_raw_byte_string_and_code_in_lib_rs_do_not_hide_anything() {
    let files = planted(&[
        (
            "lib.rs",
            "pub mod diagnostic;\npub mod cli;\npub fn helper() {}\n",
        ),
        // A raw byte string with a quote inside, then a call through a turbofish.
        (
            "diagnostic.rs",
            "const B: &[u8] = br#\"say \"hi\"\"#;\nfn f() { crate::cli::run::<u8>(); }\n",
        ),
        ("cli/mod.rs", "pub fn run<T>() {}\n"),
    ]);
    let report = analyse(&files);
    let text = explain(&report);
    assert!(
        has_back_edge(&report, "src/diagnostic.rs -> src/cli/mod.rs"),
        "a path through a turbofish after a raw byte string:\n{text}"
    );
    assert_eq!(report.root_defines, ["helper"], "{text}");
}
