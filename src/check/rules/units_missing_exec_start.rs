//! `kindling::units::missing-exec-start`: a service systemd refuses to load for want of
//! a command.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_missing_exec_start`].

use super::shared::refused;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_missing_exec_start::RULE;
use crate::units::values::parse_bool;

/// Check every service the config defines.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in cx.unit_files(".service") {
        // The unit and its drop-ins in the config, in the order systemd applies them.
        let texts: Vec<&crate::units::UnitText> =
            cx.unit_texts(doc.name).map(|d| &d.text).collect();
        let last = |section: &str, key: &str| texts.iter().rev().find_map(|t| t.last(section, key));
        let has = |section: &str, key: &str| last(section, key).is_some_and(|v| !v.is_empty());
        let start = has("Service", "ExecStart");
        let stop = has("Service", "ExecStop");
        let success = has("Unit", "SuccessAction") && last("Unit", "SuccessAction") != Some("none");
        let oneshot = last("Service", "Type") == Some("oneshot");
        let remain = last("Service", "RemainAfterExit").and_then(parse_bool) == Some(true);
        let why = if !start && !stop && !success {
            Some("has no ExecStart=, ExecStop= or SuccessAction=")
        } else if !oneshot && !start {
            Some("has no ExecStart=, which only Type=oneshot services may omit")
        } else if !remain && !start && !success {
            Some("has no ExecStart= or SuccessAction= and no RemainAfterExit=yes")
        } else {
            None
        };
        if let Some(why) = why {
            out.push(refused(&RULE, doc, why));
        }
    }
}
