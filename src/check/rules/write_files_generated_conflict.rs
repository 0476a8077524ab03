//! `kindling::write-files::generated-conflict`: write_files and another key write the same
//! file.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_generated_conflict`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::root::clean;
use crate::rules::write_files_generated_conflict::RULE;
use std::collections::HashMap;

/// Plan the config without write_files and compare paths.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let could_collide = cx.config.write_files().any(|f| {
        f.value.path.as_ref().is_some_and(|p| {
            let p = clean(&p.value);
            crate::plan::GENERATED_PLACES
                .iter()
                .any(|place| p.starts_with(place))
        })
    });
    if !could_collide {
        return;
    }
    let mut rest = cx.config.clone();
    rest.write_files = None;
    let plan = crate::plan::plan(&rest, &crate::plan::PlanOptions::default());
    let generated: HashMap<&str, &str> = plan
        .files
        .iter()
        .map(|f| (f.path.as_str(), f.origin.as_str()))
        .collect();
    for file in cx.config.write_files() {
        let Some(path) = file.value.path.as_ref().filter(|p| !p.value.is_empty()) else {
            continue;
        };
        if let Some(origin) = generated.get(clean(&path.value).as_str()) {
            out.push(RULE.at(
                path.span,
                format!(
                    "{} is also generated from {origin}; one of them would be lost",
                    clean(&path.value)
                ),
            ));
        }
    }
}
