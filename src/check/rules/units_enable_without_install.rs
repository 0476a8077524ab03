//! `kindling::units::enable-without-install`: `enable: true` on a unit that cannot be
//! enabled.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_enable_without_install`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::model::Unit;
use crate::rules::units_enable_without_install::RULE;

/// Check every enabled unit the config defines.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in cx.units.iter().filter(|d| d.drop_in.is_none()) {
        let u = &doc.unit.value;
        if !Unit::flag(u.enable.as_ref())
            || crate::units::kind(doc.name) == Some(crate::units::UnitKind::Network)
        {
            continue;
        }
        let installs = cx.unit_texts(doc.name).any(|d| {
            ["WantedBy", "RequiredBy", "Alias", "Also"]
                .iter()
                .any(|k| d.text.get("Install", k).any(|v| !v.value.is_empty()))
        });
        if !installs {
            let span = u.enable.as_ref().map_or(doc.unit.span, |e| e.key_span);
            out.push(RULE.at(span, format!("{} has no [Install] section with WantedBy= or RequiredBy=; enabling it does nothing", doc.name)));
        }
    }
}
