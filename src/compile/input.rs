//! The entry points: raw user-data, or a template's output, validated and compiled; a
//! multipart user-data goes part by part (`multipart`), anything else as one config
//! (`config`).

use super::config::{compile_config, ignition_checks};
use super::multipart;
use super::options::{Compiled, Options, Target};
use crate::diagnostic::Severity;
use crate::rules;
use crate::source::UserData;
use crate::validate::{Validation, validate, validate_rendered};

/// Compile raw user-data named `name`.
#[must_use]
pub fn compile(name: &str, bytes: Vec<u8>, options: &Options) -> Compiled {
    compile_validated(validate(name, bytes), options)
}

/// Compile the output of a template (which is not rendered again if it is a template).
#[must_use]
pub fn compile_rendered(name: &str, bytes: Vec<u8>, options: &Options) -> Compiled {
    compile_validated(validate_rendered(name, bytes), options)
}

fn compile_validated(validation: Validation, options: &Options) -> Compiled {
    if validation.source.kind == UserData::Multipart {
        return multipart_file(validation, options);
    }
    compile_config(validation, options)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compile::{AFTER_SUBSTITUTION, substitute};
    use crate::diagnostic::{Finding, Severity};
    use crate::plan::PlanOptions;

    /// The errors of a compile.
    fn errors(c: &Compiled) -> Vec<Finding> {
        c.findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .cloned()
            .collect()
    }

    /// `text` compiled as `c.yaml` with the variables `pairs`.
    fn compile_with_vars(text: &str, pairs: &[(&str, &str)]) -> Compiled {
        compile("c.yaml", text.as_bytes().to_vec(), &tree(pairs))
    }

    fn tree(pairs: &[(&str, &str)]) -> Options {
        Options {
            target: Target::Tree,
            vars: pairs.iter().map(|&(k, v)| (k.into(), v.into())).collect(),
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
        let c = compile_with_vars(
            text,
            &[
                ("private_ipv4", "10.0.0.200"),
                ("public_ipv6", "[2001:db8::10]"),
            ],
        );
        assert!(c.plan.is_none());
        assert_eq!(
            c.validation.source.text, text,
            "reported against the text as written"
        );
        let errors = errors(&c);
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
        let c = compile_with_vars(
            text,
            &[
                ("public_ipv4", "10.0.0.1\n      10.0.0.2"),
                ("private_ipv4", "10.0.0.200"),
                ("public_ipv6", "[2001:db8::10]"),
            ],
        );
        let errors = errors(&c);
        assert_eq!(errors.len(), 1, "{:?}", c.findings);
        assert!(errors[0].message.starts_with(AFTER_SUBSTITUTION));
        let (at, human) = reported(&c.validation.source, &errors);
        assert_eq!(at, vec![(7, 37)]);
        assert!(human.contains("[c.yaml:7:37]"), "{human}");
    }
}
