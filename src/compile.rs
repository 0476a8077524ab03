//! Compile: a config's text and a node's variables to a checked plan, or the findings
//! that stop it.
//!
//! Validates the text as written (so positions are the user's), substitutes the
//! `$public_ipv4`-style variables as coreos-cloudinit does on the node (every occurrence,
//! `\$` escaping), validates again if anything changed, checks what the target cannot
//! express, and plans. A multipart user-data is compiled part by part and merged in part
//! order (`multipart`). Pure: the caller reads inputs and writes outputs.

pub mod multipart;

use std::collections::BTreeMap;

use crate::diagnostic::{Finding, Severity, Span};
use crate::plan::{ActionKind, Plan, PlanOptions};
use crate::source::UserData;
use crate::{Validation, rules, validate};

/// The variables coreos-cloudinit substitutes.
pub const VARIABLES: [&str; 4] = ["public_ipv4", "private_ipv4", "public_ipv6", "private_ipv6"];

/// How the message of a finding about the substituted text starts (its span points into
/// that text, not the text as written).
pub const AFTER_SUBSTITUTION: &str = "after substituting variables: ";

/// What to compile to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A directory laid out like the node's root, with a manifest.
    Tree,
    /// An Ignition v3.3.0 config.
    Ignition,
}

/// Options of a compile.
#[derive(Debug, Clone)]
pub struct Options {
    /// The target.
    pub target: Target,
    /// Values of `public_ipv4` and friends.
    pub vars: BTreeMap<String, String>,
    /// See [`PlanOptions`].
    pub plan: PlanOptions,
}

/// The outcome.
#[derive(Debug)]
pub struct Compiled {
    /// The validation of the text as written (or as substituted, when that failed).
    pub validation: Validation,
    /// Every finding: validation, substitution and target checks.
    pub findings: Vec<Finding>,
    /// The plan, when nothing stops it.
    pub plan: Option<Plan>,
}

/// Each `$name` occurrence (not escaped) in `text`: (byte offset, variable).
fn occurrences(text: &str) -> Vec<(usize, &'static str)> {
    let mut out = Vec::new();
    for (i, _) in text.match_indices('$') {
        if i > 0 && text.as_bytes()[i - 1] == b'\\' {
            continue;
        }
        if let Some(var) = VARIABLES.iter().find(|v| text[i + 1..].starts_with(**v)) {
            out.push((i, *var));
        }
    }
    out
}

/// The variables `text` uses (each unescaped `$name`), for callers that must find every
/// value before compiling (a fleet node, `fleet diff`).
#[must_use]
pub fn variables_used(text: &str) -> std::collections::BTreeSet<&'static str> {
    occurrences(text).into_iter().map(|(_, v)| v).collect()
}

/// Substitute the variables as coreos-cloudinit does: `$name` -> value, `\$name` -> `$name`.
#[must_use]
pub fn substitute(text: &str, vars: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let var = VARIABLES.iter().find(|v| after.starts_with(**v));
        match var {
            Some(var) if i > 0 && rest.as_bytes()[i - 1] == b'\\' => {
                out.push_str(&rest[..i - 1]);
                out.push('$');
                out.push_str(var);
                rest = &after[var.len()..];
            }
            Some(var) => {
                out.push_str(&rest[..i]);
                out.push_str(vars.get(*var).map_or("", String::as_str));
                rest = &after[var.len()..];
            }
            None => {
                out.push_str(&rest[..=i]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Compile raw user-data named `name`.
#[must_use]
pub fn compile(name: &str, bytes: Vec<u8>, options: &Options) -> Compiled {
    compile_validated(validate(name, bytes), options)
}

/// Compile the output of a template (which is not rendered again if it is a template).
#[must_use]
pub fn compile_rendered(name: &str, bytes: Vec<u8>, options: &Options) -> Compiled {
    compile_validated(crate::validate_rendered(name, bytes), options)
}

fn compile_validated(validation: Validation, options: &Options) -> Compiled {
    let name = validation.source.name.clone();
    let name = name.as_str();
    let mut findings = validation.findings.clone();
    let stop = |validation, findings| Compiled {
        validation,
        findings,
        plan: None,
    };
    match validation.source.kind {
        UserData::CloudConfig => {}
        UserData::Multipart => return multipart_file(validation, options),
        UserData::Empty => {
            return Compiled {
                validation,
                findings,
                plan: Some(Plan::default()),
            };
        }
        UserData::Template => {
            findings.push(rules::compile_unsupported_input::RULE.at(
                Span::new(
                    0,
                    validation.source.index.line_end(&validation.source.text, 1),
                ),
                "this is a template; compile renders it per node with --vars, --var or --inventory",
            ));
            return stop(validation, findings);
        }
        _ => {
            findings.push(rules::compile_unsupported_input::RULE.at(
                Span::new(
                    0,
                    validation.source.index.line_end(&validation.source.text, 1),
                ),
                "this is not a #cloud-config; there is nothing to compile",
            ));
            return stop(validation, findings);
        }
    }
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return stop(validation, findings);
    }
    let text = &validation.source.text;
    let mut unset = Vec::new();
    for (at, var) in occurrences(text) {
        if !options.vars.contains_key(var) {
            unset.push(
                rules::compile_unset_variable::RULE
                    .at(
                        Span::new(at, at + 1 + var.len()),
                        format!("${var} has no value for this node"),
                    )
                    .with_help(format!("pass it: `--var {var}=ADDRESS`")),
            );
        }
    }
    if !unset.is_empty() {
        findings.extend(unset);
        return stop(validation, findings);
    }
    let substituted = substitute(text, &options.vars);
    let validation = if substituted == *text {
        validation
    } else {
        let again = crate::validate_rendered(name, substituted.into_bytes());
        if again.has(Severity::Error) {
            let mut findings = again.findings.clone();
            for f in &mut findings {
                f.message = format!("{AFTER_SUBSTITUTION}{}", f.message);
            }
            return stop(again, findings);
        }
        again
    };
    let plan = crate::plan::plan(&validation.config, &options.plan);
    if options.target == Target::Ignition {
        ignition_checks(&plan, &mut findings);
    }
    crate::diagnostic::sort(&mut findings);
    let plan = (!findings.iter().any(|f| f.severity == Severity::Error)).then_some(plan);
    Compiled {
        validation,
        findings,
        plan,
    }
}

/// A multipart user-data for `compile`, `apply FILE` and `diff FILE`: its cloud-config parts
/// merged; a script part is reported and left out (scripts run in the boot-time apply).
fn multipart_file(validation: Validation, options: &Options) -> Compiled {
    let parts = multipart::compile(validation, options);
    let mut compiled = parts.compiled;
    for step in &parts.steps {
        if let multipart::Step::Script { number, header, .. } = step {
            compiled.findings.push(
                rules::source_multipart_skipped::RULE.at(
                    *header,
                    format!(
                        "part {number} is a #! script: only the boot-time apply (kindling apply --from-...) runs it; this command leaves it out"
                    ),
                ),
            );
        }
    }
    if let Some(plan) = &compiled.plan
        && options.target == Target::Ignition
    {
        ignition_checks(plan, &mut compiled.findings);
        if compiled
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error)
        {
            compiled.plan = None;
        }
    }
    crate::diagnostic::sort(&mut compiled.findings);
    compiled
}

fn ignition_checks(plan: &Plan, out: &mut Vec<Finding>) {
    for file in &plan.files {
        if file.mode & 0o7000 != 0 && matches!(file.content, crate::plan::Content::Bytes(_)) {
            out.push(rules::compile_ignition::RULE.at(
                file.span,
                format!(
                    "{} has mode {:04o}; Ignition 3.3 cannot set setuid, setgid or sticky bits",
                    file.path, file.mode
                ),
            ));
        }
    }
    // Units masked by the plan: a /dev/null link named after the unit.
    let masked: std::collections::HashSet<&str> = plan
        .files
        .iter()
        .filter(|f| f.content == crate::plan::Content::Symlink("/dev/null".into()))
        .filter_map(|f| f.path.rsplit('/').next())
        .collect();
    for action in &plan.actions {
        if let ActionKind::Systemctl { verb, unit } = &action.kind {
            let masked = masked.contains(unit.as_str());
            let starts = matches!(verb.as_str(), "start" | "restart" | "reload-or-restart");
            let implied_by_mask = verb == "stop" && masked;
            if !(starts || implied_by_mask) {
                out.push(
                    rules::compile_ignition::RULE
                        .at(
                            action.span,
                            format!(
                                "`{verb}` for {unit} means nothing at first boot; it is left out"
                            ),
                        )
                        .with_severity(Severity::Warning),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_as_coreos_cloudinit() {
        let mut vars = BTreeMap::new();
        vars.insert("private_ipv4".to_string(), "10.0.0.2".to_string());
        assert_eq!(
            substitute("a $private_ipv4:4001 b", &vars),
            "a 10.0.0.2:4001 b"
        );
        assert_eq!(
            substitute("\\$private_ipv4 $HOME $", &vars),
            "$private_ipv4 $HOME $"
        );
        assert_eq!(substitute("$public_ipv4", &vars), "");
        assert_eq!(
            occurrences("x \\$public_ipv4 $public_ipv4 $private_ipv6"),
            vec![(16, "public_ipv4"), (29, "private_ipv6")]
        );
    }
}
