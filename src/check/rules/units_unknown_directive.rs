//! `kindling::units::unknown-directive`: a directive systemd 252 does not know in its
//! section.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_unknown_directive`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_unknown_directive::RULE;
use crate::suggest::distance;
use crate::units::{UnitKind, allowed_sections, known_directives};

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
