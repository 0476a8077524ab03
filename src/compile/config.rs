//! One cloud-config compiled: the text as validated, its `$` variables substituted for the
//! node, the substituted text validated again, planned, and checked for what the target
//! cannot express. Every span stays the user's (see `substitute`).

use super::options::{Compiled, Options, Target};
use super::substitute::{occurrences, substitute_mapped};
use crate::diagnostic::{Finding, Severity, Span};
use crate::plan::{ActionKind, Plan};
use crate::rules;
use crate::source::UserData;
use crate::validate::{Validation, validate_rendered};

/// How the message of a finding about the substituted text starts (its span points into
/// that text, not the text as written).
pub const AFTER_SUBSTITUTION: &str = "after substituting variables: ";

/// Compile a validated text that is not multipart: a cloud-config is checked for unset
/// variables, substituted, validated again when anything changed, planned and checked for
/// the target; any other kind stops with the reason.
pub(super) fn compile_config(validation: Validation, options: &Options) -> Compiled {
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
    let unset = unset_variables(text, &options.vars);
    if !unset.is_empty() {
        findings.extend(unset);
        return stop(validation, findings);
    }
    let (substituted, map) = substitute_mapped(text, &options.vars);
    // The substituted text is validated again (a value can break it), then planned; what
    // either finds is moved back onto the text as written, which is the text `validation`
    // keeps and the findings are reported against.
    let again = if map.is_identity() {
        None
    } else {
        let again = validate_rendered(name, substituted.into_bytes());
        if again.has(Severity::Error) {
            let findings = again
                .findings
                .into_iter()
                .map(|mut f| {
                    f.message = format!("{AFTER_SUBSTITUTION}{}", f.message);
                    map.finding(f)
                })
                .collect();
            return stop(validation, findings);
        }
        Some(again)
    };
    let plan = match &again {
        Some(again) => map.plan(crate::plan::plan(&again.config, &options.plan)),
        None => crate::plan::plan(&validation.config, &options.plan),
    };
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

/// Each `$name` in `text` that `vars` has no value for, as a finding at its use.
fn unset_variables(text: &str, vars: &std::collections::BTreeMap<String, String>) -> Vec<Finding> {
    occurrences(text)
        .into_iter()
        .filter(|(_, var)| !vars.contains_key(*var))
        .map(|(at, var)| {
            rules::compile_unset_variable::RULE
                .at(
                    Span::new(at, at + 1 + var.len()),
                    format!("${var} has no value for this node"),
                )
                .with_help(format!("pass it: `--var {var}=ADDRESS`"))
        })
        .collect()
}

/// What Ignition 3.3 cannot express in `plan`, as findings.
pub(super) fn ignition_checks(plan: &Plan, out: &mut Vec<Finding>) {
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
