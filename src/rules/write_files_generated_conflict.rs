//! `kindling::write-files::generated-conflict`: write_files and another key write the same
//! file.

use std::collections::HashMap;

use crate::check::Context;
use crate::diagnostic::{Finding, Rule, Severity};
use crate::root::clean;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::generated-conflict",
    severity: Severity::Error,
    summary: "write_files writes a file that another key of the config also generates",
    help: "set the value through its key (coreos.update, hostname, coreos.units ...) or drop the other key",
    explanation: "Some files are generated from other keys: `/etc/coreos/update.conf` from \
`coreos.update`, `/etc/hostname` from `hostname`, unit files and drop-ins from `coreos.units`, \
the locksmith drop-in from `coreos.locksmith`, and so on. Writing the same file with \
`write_files` as well means one of the two is silently lost (on the node, whichever is written \
last). kindling finds the generated files by planning the config without `write_files`.",
    example: "#cloud-config\ncoreos:\n  update:\n    group: stable\nwrite_files:\n  - path: /etc/coreos/update.conf\n    content: |\n      GROUP=beta\n",
    fixed: "#cloud-config\ncoreos:\n  update:\n    group: beta\n",
};

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
