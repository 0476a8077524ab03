//! `kindling::units::unknown-directive`: a directive systemd 252 does not know in its
//! section.

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::suggest::distance;
use crate::units::{UnitKind, allowed_sections, known_directives};

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::units::unknown-directive",
    severity: Severity::Warning,
    summary: "a unit-file directive systemd does not know in its section",
    help: "check the spelling and the section; systemd ignores unknown directives",
    explanation: "systemd ignores a directive it does not know, with only a line in the journal: \
`ExecStrat=` never starts anything, and `Restart=` in `[Unit]` restarts nothing. kindling checks \
every directive against systemd 252's own table (per unit type and section, drop-ins included), \
suggests the directive you probably meant, and says which section a known directive belongs to. \
Directives newer than systemd 252 are reported too: silence them with `# kindling-ignore` when \
your nodes run a newer systemd. `X-` directives are for other tools and are left alone.",
    example: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      content: |\n        [Service]\n        ExecStrat=/usr/bin/echo hello\n",
    fixed: "#cloud-config\ncoreos:\n  units:\n    - name: hello.service\n      content: |\n        [Service]\n        ExecStart=/usr/bin/echo hello\n",
};

/// Check every directive.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in &cx.units {
        let Some(kind @ UnitKind::Systemd(_)) = crate::units::kind(doc.name) else {
            continue;
        };
        let sections = allowed_sections(kind);
        for d in &doc.text.directives {
            let Some(section) = d.section.as_deref() else {
                continue;
            };
            if d.key.starts_with("X-") || !sections.contains(&section) {
                continue;
            }
            let Some(known) = known_directives(section) else {
                continue;
            };
            if known.binary_search(&d.key.as_str()).is_ok() {
                continue;
            }
            let span = cx.unit_span(doc, d.line, d.key_range);
            let elsewhere = sections.iter().filter(|s| **s != section).find(|s| {
                known_directives(s).is_some_and(|k| k.binary_search(&d.key.as_str()).is_ok())
            });
            let help = if let Some(right) = elsewhere {
                format!("{}= belongs in [{right}], not [{section}]", d.key)
            } else if let Some((_, best)) = known
                .iter()
                .map(|k| {
                    (
                        distance(&d.key.to_ascii_lowercase(), &k.to_ascii_lowercase()),
                        *k,
                    )
                })
                .min()
                .filter(|(dist, k)| *dist <= (k.len() / 4).max(1))
            {
                format!("did you mean {best}=?")
            } else {
                RULE.help.to_string()
            };
            out.push(
                RULE.at(
                    span,
                    format!(
                        "systemd does not know {}= in [{section}] of {}; it is ignored",
                        d.key, doc.name
                    ),
                )
                .with_help(help),
            );
        }
    }
}
