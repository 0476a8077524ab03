//! `kindling::units::section`: unit-file lines systemd ignores: a section name in the
//! wrong case, or a setting before any section.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::section",
    severity: Severity::Error,
    summary: "a unit-file section systemd does not know, a setting outside any section, or a line without '='",
    help: "section names are case-sensitive: [Unit], [Service], [Install], [Timer] ...",
    explanation: "systemd ignores a section it does not know, with every setting in it: `[unit]` \
is not `[Unit]` (an error: clearly a typo), and a `.service` has no `[Timer]` section (a \
warning). Settings before the first section header, and lines without `=`, are ignored too. \
Sections starting with `X-` are for other tools and are left alone. The finding points at the \
line inside the `content: |` block.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: cleaner.service\n      content: |\n        [Unit]\n        After=docker.service\n        [Service]\n        ExecStart=/usr/bin/true\n",
};

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
