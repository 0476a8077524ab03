//! `kindling::units::service-refused`: settings that make systemd refuse a service.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::units_service_refused`].

use super::shared::refused;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::units_service_refused::RULE;

/// Check every service the config defines.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for doc in cx.unit_files(".service") {
        let texts: Vec<&crate::units::UnitText> =
            cx.unit_texts(doc.name).map(|d| &d.text).collect();
        let last = |key: &str| texts.iter().rev().find_map(|t| t.last("Service", key));
        let ty = last("Type").unwrap_or("simple");
        let mut exec_starts = 0;
        for t in &texts {
            for d in t.get("Service", "ExecStart") {
                if d.value.is_empty() {
                    exec_starts = 0;
                } else {
                    exec_starts += 1;
                }
            }
        }
        let why = if ty == "dbus" && last("BusName").is_none_or(str::is_empty) {
            Some("is Type=dbus but names no BusName=".to_string())
        } else if ty == "oneshot" && matches!(last("Restart"), Some("always" | "on-success")) {
            Some(format!(
                "is Type=oneshot with Restart={}, which systemd does not allow",
                last("Restart").unwrap_or("")
            ))
        } else if ty != "oneshot" && exec_starts > 1 {
            Some(format!(
                "has {exec_starts} ExecStart= lines, which only Type=oneshot services may have"
            ))
        } else {
            None
        };
        if let Some(why) = why {
            out.push(refused(&RULE, doc, &why));
        }
    }
}
