//! `kindling::units::section`: unit-file lines systemd ignores: a section name in the
//! wrong case, or a setting before any section.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_section`].

use crate::check::Context;
use crate::diagnostic::{Finding, Severity};
use crate::rules::units_section::RULE;

/// Check unit and drop-in texts.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in &cx.units {
        let allowed: Vec<&str> = match crate::units::kind(doc.name) {
            Some(kind) => crate::units::allowed_sections(kind),
            None => crate::units::KNOWN_SECTIONS.to_vec(),
        };
        for section in &doc.text.sections {
            let name = section.name.as_str();
            if allowed.contains(&name) || name.starts_with("X-") {
                continue;
            }
            let span = cx.unit_span(doc, section.line, section.range);
            if let Some(right) = allowed.iter().find(|s| s.eq_ignore_ascii_case(name)) {
                out.push(
                    RULE.at(
                        span,
                        format!(
                            "systemd does not know section [{name}]; every setting in it is ignored"
                        ),
                    )
                    .with_help(format!("section names are case-sensitive: write [{right}]")),
                );
            } else {
                out.push(
                    RULE.at(span, format!("{} has no [{name}] section; systemd ignores it and every setting in it", doc.name))
                        .with_severity(Severity::Warning)
                        .with_help(format!("sections of {}: {}", doc.name, allowed.iter().map(|s| format!("[{s}]")).collect::<Vec<_>>().join(", "))),
                );
            }
        }
        for d in doc.text.directives.iter().filter(|d| d.section.is_none()) {
            out.push(
                RULE.at(
                    cx.unit_span(doc, d.line, d.key_range),
                    "this setting comes before any [Section] header; systemd ignores it",
                )
                .with_help("start the unit with a section header such as [Unit] or [Service]"),
            );
        }
        for bad in &doc.text.bad_lines {
            out.push(
                RULE.at(cx.unit_span(doc, bad.line, bad.range), bad.message.clone())
                    .with_severity(Severity::Warning)
                    .with_help("write settings as Key=Value and sections as [Name]"),
            );
        }
    }
}
