//! Compile: a config's text and a node's variables to a checked plan, or the findings
//! that stop it.
//!
//! Validates the text as written (so positions are the user's), substitutes the
//! `$public_ipv4`-style variables as coreos-cloudinit does on the node (every occurrence,
//! `\$` escaping), validates again if anything changed, checks what the target cannot
//! express, and plans. What the substituted text's validation finds and its plan's spans are
//! moved back onto the text as written through a [`SubstitutionMap`] (a span inside a value
//! covers the `$name` token it replaced), so every position reported is the user's. A multipart user-data is compiled part by part and merged in part
//! order (`multipart`). Pure: the caller reads inputs and writes outputs.

pub mod multipart;

use std::collections::BTreeMap;

use crate::diagnostic::{Finding, Severity, Span};
use crate::plan::{ActionKind, Plan, PlanOptions};
use crate::source::UserData;
use crate::{Validation, rules, validate};

pub use crate::model::VARIABLES;

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
    /// The validation of the text as written: every span of `findings` and `plan` points
    /// into its source, also for findings about the substituted text.
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
    substitute_mapped(text, vars).0
}

/// One range the substitution replaced: the `$name` (or `\$name`) token in the text as
/// written, and what took its place in the substituted text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Replaced {
    written: Span,
    substituted: Span,
}

/// Where the substituted text came from: every replaced range, in order, so that a span
/// into the substituted text can be moved back into the text as written (the text the
/// user edits, and the one findings and plans are reported against).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubstitutionMap {
    replaced: Vec<Replaced>,
}

impl SubstitutionMap {
    /// Whether nothing was replaced (the two texts are the same).
    #[must_use]
    pub fn is_identity(&self) -> bool {
        self.replaced.is_empty()
    }

    /// The start of a span of the substituted text, in the text as written: inside a
    /// substituted value (or, for a zero-width span, `take_empty`, at the place of an empty
    /// one) it is the start of the token the value replaced; elsewhere it moves by the
    /// length differences of the replacements before it.
    fn start(&self, at: usize, take_empty: bool) -> usize {
        let mut mapped = at;
        for r in &self.replaced {
            if r.substituted.start > at {
                break;
            }
            mapped = if at < r.substituted.end || (at == r.substituted.start && take_empty) {
                r.written.start
            } else {
                at - r.substituted.end + r.written.end
            };
        }
        mapped
    }

    /// The end of a span of the substituted text, in the text as written: inside (or at the
    /// end of) a substituted value it is the end of the token the value replaced. A span
    /// that ends right before a value does not take the value's token in, except a
    /// zero-width span at the place of an empty value (`take_empty`), which has nothing
    /// else to point at.
    fn end(&self, at: usize, take_empty: bool) -> usize {
        let mut mapped = at;
        for r in &self.replaced {
            let empty = r.substituted.start == r.substituted.end;
            if r.substituted.start > at || (r.substituted.start == at && !(empty && take_empty)) {
                break;
            }
            mapped = if at <= r.substituted.end {
                r.written.end
            } else {
                at - r.substituted.end + r.written.end
            };
        }
        mapped
    }

    /// A span of the substituted text as a span of the text as written. A span that falls
    /// inside a substituted value covers the whole `$name` token it came from.
    #[must_use]
    pub fn span(&self, span: Span) -> Span {
        let zero_width = span.start == span.end;
        let start = self.start(span.start, zero_width);
        let end = self.end(span.end, zero_width);
        Span::new(start, end.max(start))
    }

    /// A finding about the substituted text, moved onto the text as written (its related
    /// places too).
    #[must_use]
    pub fn finding(&self, mut finding: Finding) -> Finding {
        finding.span = self.span(finding.span);
        for r in &mut finding.related {
            r.span = self.span(r.span);
        }
        finding
    }

    /// A plan of the substituted text, its spans moved onto the text as written.
    #[must_use]
    pub fn plan(&self, mut plan: Plan) -> Plan {
        for f in &mut plan.files {
            f.span = self.span(f.span);
        }
        for a in &mut plan.actions {
            a.span = self.span(a.span);
        }
        plan
    }
}

/// [`substitute`], and the map from the substituted text back to `text`.
#[must_use]
pub fn substitute_mapped(text: &str, vars: &BTreeMap<String, String>) -> (String, SubstitutionMap) {
    let mut out = String::with_capacity(text.len());
    let mut map = SubstitutionMap::default();
    let mut rest = text;
    // Where `rest` starts in `text`.
    let mut offset = 0;
    while let Some(i) = rest.find('$') {
        let after = &rest[i + 1..];
        let var = VARIABLES.iter().find(|v| after.starts_with(**v));
        let consumed = match var {
            Some(var) if i > 0 && rest.as_bytes()[i - 1] == b'\\' => {
                out.push_str(&rest[..i - 1]);
                let at = out.len();
                out.push('$');
                out.push_str(var);
                map.replaced.push(Replaced {
                    written: Span::new(offset + i - 1, offset + i + 1 + var.len()),
                    substituted: Span::new(at, out.len()),
                });
                i + 1 + var.len()
            }
            Some(var) => {
                out.push_str(&rest[..i]);
                let at = out.len();
                out.push_str(vars.get(*var).map_or("", String::as_str));
                map.replaced.push(Replaced {
                    written: Span::new(offset + i, offset + i + 1 + var.len()),
                    substituted: Span::new(at, out.len()),
                });
                i + 1 + var.len()
            }
            None => {
                out.push_str(&rest[..=i]);
                i + 1
            }
        };
        rest = &rest[consumed..];
        offset += consumed;
    }
    out.push_str(rest);
    (out, map)
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
    let (substituted, map) = substitute_mapped(text, &options.vars);
    // The substituted text is validated again (a value can break it), then planned; what
    // either finds is moved back onto the text as written, which is the text `validation`
    // keeps and the findings are reported against.
    let again = if map.is_identity() {
        None
    } else {
        let again = crate::validate_rendered(name, substituted.into_bytes());
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

    fn vars(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn the_map_moves_spans_back_onto_the_text_as_written() {
        // Replacements that shorten (`$private_ipv4` -> 10.0.0.2), lengthen (`$public_ipv6`),
        // empty (`$public_ipv4`) and unescape (`\$private_ipv6`), all on one line.
        let text = "a $private_ipv4 b $public_ipv6 c $public_ipv4 d \\$private_ipv6 e";
        let vars = vars(&[
            ("private_ipv4", "10.0.0.2"),
            ("public_ipv6", "2001:db8:0:0:0:0:0:10"),
            ("public_ipv4", ""),
        ]);
        let (out, map) = substitute_mapped(text, &vars);
        assert_eq!(out, substitute(text, &vars));
        assert_eq!(
            out,
            "a 10.0.0.2 b 2001:db8:0:0:0:0:0:10 c  d $private_ipv6 e"
        );
        let back = |sub: &str| {
            let start = out.find(sub).unwrap();
            let span = map.span(Span::new(start, start + sub.len()));
            &text[span.start..span.end]
        };
        // Text outside the values moves by the length differences before it.
        assert_eq!(back("a "), "a ");
        assert_eq!(back(" b "), " b ");
        assert_eq!(back(" c "), " c ");
        assert_eq!(back("c  d"), "c $public_ipv4 d");
        assert_eq!(back(" d "), " d ");
        assert_eq!(back(" e"), " e");
        // A span inside a value, or over it, covers the whole token.
        assert_eq!(back("10.0.0.2"), "$private_ipv4");
        assert_eq!(back("0.0"), "$private_ipv4");
        assert_eq!(back("db8"), "$public_ipv6");
        assert_eq!(back("b 2001"), "b $public_ipv6");
        assert_eq!(back("$private_ipv6"), "\\$private_ipv6");
        // A zero-width span at the place of an empty value takes in its token; one at a
        // non-empty value's start stays zero-width at the token's start.
        let empty = out.find(" d ").unwrap() - 1;
        let s = map.span(Span::new(empty + 1, empty + 1));
        assert_eq!(&text[s.start..s.end], "$public_ipv4");
        let s = map.span(Span::new(2, 2));
        assert_eq!(s, Span::new(2, 2));
        // The end of the text maps to the end of the text.
        assert_eq!(map.span(Span::new(out.len(), out.len())).start, text.len());
        // Nothing replaced: the identity.
        let (same, none) = substitute_mapped("x $HOME $", &vars);
        assert_eq!(same, "x $HOME $");
        assert!(none.is_identity());
        assert_eq!(none.span(Span::new(2, 7)), Span::new(2, 7));
    }

    fn tree(pairs: &[(&str, &str)]) -> Options {
        Options {
            target: Target::Tree,
            vars: vars(pairs),
            plan: PlanOptions::default(),
        }
    }

    /// `(line, column)` of each of `findings` in `source` through the JSON format, and the
    /// human format's `file:line:column` of the first.
    fn reported(
        source: &crate::source::SourceFile,
        findings: &[Finding],
    ) -> (Vec<(u64, u64)>, String) {
        let validation = Validation {
            source: source.clone(),
            root: None,
            config: crate::model::CloudConfig::default(),
            findings: findings.to_vec(),
        };
        let json: serde_json::Value =
            serde_json::from_str(&crate::report::json::render(&[validation])).unwrap();
        let at = json
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["line"].as_u64().unwrap(), f["column"].as_u64().unwrap()))
            .collect();
        let style = crate::report::human::Style {
            color: false,
            width: 200,
        };
        let human = crate::report::human::render_finding(source, &findings[0], style);
        (at, human)
    }

    #[test]
    fn a_finding_after_substitution_points_into_the_text_as_written() {
        // The value of $public_ipv6 makes `metadata` a list. In the substituted text the key
        // is at 3:34 (what was reported before the map: 13-byte `$private_ipv4` became a
        // 10-byte address); in the file as written it is at 3:37.
        let text =
            "#cloud-config\ncoreos:\n  fleet: {public-ip: $private_ipv4, metadata: $public_ipv6}\n";
        let c = compile(
            "c.yaml",
            text.as_bytes().to_vec(),
            &tree(&[
                ("private_ipv4", "10.0.0.200"),
                ("public_ipv6", "[2001:db8::10]"),
            ]),
        );
        assert!(c.plan.is_none());
        assert_eq!(
            c.validation.source.text, text,
            "reported against the text as written"
        );
        let errors: Vec<Finding> = c
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .cloned()
            .collect();
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(
            errors[0].message,
            format!("{AFTER_SUBSTITUTION}\"metadata\" must be a string, not a list")
        );
        assert_eq!(&text[errors[0].span.start..errors[0].span.end], "metadata");
        let (at, human) = reported(&c.validation.source, &errors);
        assert_eq!(at, vec![(3, 37)]);
        assert!(human.contains("[c.yaml:3:37]"), "{human}");
        assert!(
            human.contains("fleet: {public-ip: $private_ipv4, metadata: $public_ipv6}"),
            "the excerpt is the line as written: {human}"
        );
    }

    #[test]
    fn multi_line_values_do_not_shift_lines() {
        // A two-line value (kept inside the block scalar by its indentation) on line 5: the
        // file from line 6 as written is on line 7 of the substituted text, which is what
        // the manifest said before the map.
        let text = "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: |\n      ip=$private_ipv4 x=$public_ipv4\n  - path: /etc/b\n    content: b\n";
        let options = tree(&[
            ("private_ipv4", "10.0.0.200\n      10.0.0.201"),
            ("public_ipv4", "1"),
        ]);
        let substituted = substitute(text, &options.vars);
        assert_eq!(substituted.lines().count(), text.lines().count() + 1);
        let c = compile("c.yaml", text.as_bytes().to_vec(), &options);
        let plan = c.plan.expect("compiles");
        let lines: Vec<usize> = plan
            .files
            .iter()
            .map(|f| c.validation.source.position(f.span.start).line)
            .collect();
        assert_eq!(lines, vec![3, 6]);
        let manifest = crate::emit::manifest::render(&plan, &c.validation.source);
        let json: serde_json::Value = serde_json::from_str(&manifest).unwrap();
        let files: Vec<(&str, u64)> = json["files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| (f["path"].as_str().unwrap(), f["line"].as_u64().unwrap()))
            .collect();
        assert_eq!(files, vec![("/etc/a", 3), ("/etc/b", 6)]);
        assert_eq!(
            plan.files[0].content,
            crate::plan::Content::Bytes(b"ip=10.0.0.200\n10.0.0.201 x=1\n".to_vec())
        );
    }

    #[test]
    fn an_error_after_a_multi_line_value_is_on_its_line_as_written() {
        // $public_ipv4's value has two lines: the error on line 7 as written is on line 8 of
        // the substituted text (and at column 34 there, 37 as written).
        let text = "#cloud-config\nwrite_files:\n  - path: /etc/a\n    content: |\n      $public_ipv4\ncoreos:\n  fleet: {public-ip: $private_ipv4, metadata: $public_ipv6}\n";
        let c = compile(
            "c.yaml",
            text.as_bytes().to_vec(),
            &tree(&[
                ("public_ipv4", "10.0.0.1\n      10.0.0.2"),
                ("private_ipv4", "10.0.0.200"),
                ("public_ipv6", "[2001:db8::10]"),
            ]),
        );
        let errors: Vec<Finding> = c
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .cloned()
            .collect();
        assert_eq!(errors.len(), 1, "{:?}", c.findings);
        assert!(errors[0].message.starts_with(AFTER_SUBSTITUTION));
        let (at, human) = reported(&c.validation.source, &errors);
        assert_eq!(at, vec![(7, 37)]);
        assert!(human.contains("[c.yaml:7:37]"), "{human}");
    }
}
