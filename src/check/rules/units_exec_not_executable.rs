//! `kindling::units::exec-not-executable`: a unit runs a file the config writes without
//! an executable mode.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_exec_not_executable`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::root::clean;
use crate::rules::units_exec_not_executable::RULE;
use std::collections::HashMap;

/// The executable of an `Exec*=` value: its first word, without systemd's prefixes.
#[must_use]
pub fn executable(value: &str) -> Option<&str> {
    let word = value.split_whitespace().next()?;
    let path = word.trim_start_matches(['@', '-', ':', '+', '!']);
    (!path.is_empty()).then_some(path)
}

/// Check every Exec*= line against the files the config writes.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let mut modes: HashMap<String, (u32, &str)> = HashMap::new();
    for file in cx.config.write_files() {
        let Some(path) = file.value.path.as_ref().filter(|p| !p.value.is_empty()) else {
            continue;
        };
        let mode = file
            .value
            .permissions
            .as_ref()
            .and_then(|p| u32::from_str_radix(&p.value, 8).ok())
            .unwrap_or(0o644);
        modes.insert(clean(&path.value), (mode, path.value.as_str()));
    }
    if modes.is_empty() {
        return;
    }
    for doc in &cx.units {
        for d in &doc.text.directives {
            if !d.key.starts_with("Exec") {
                continue;
            }
            let Some(exe) = executable(&d.value) else {
                continue;
            };
            if let Some((mode, written)) = modes.get(&clean(exe))
                && mode & 0o111 == 0
            {
                out.push(RULE.at(
                        cx.unit_span(doc, d.line, d.value_range),
                        format!("{}= runs {written}, which write_files writes with mode {mode:04o} (not executable)", d.key),
                    ));
            }
        }
    }
}
