//! The entry point for raw user-data: a template is rendered with no variables and what it
//! renders checked (`fleet`), anything else validated as written (`rendered`).

use std::collections::BTreeMap;

use super::fleet::validate_fleet;
use super::rendered::validate_loaded;
use super::validation::{Validation, validation_of};
use crate::diagnostic::{self, Finding};
use crate::source::{self, SourceFile, UserData};
use crate::template::{NodeVars, Template};

/// Validate raw user-data named `name`: classify, parse, read and check it.
///
/// A template (`## template: jinja`) is rendered with no variables (and no includes), so its
/// syntax, its undefined variables and the findings of what it renders are reported at
/// template positions; `validate_fleet` renders it with variables.
#[must_use]
pub fn validate(name: &str, bytes: Vec<u8>) -> Validation {
    let (source, findings) = source::load(name, bytes);
    if source.kind == UserData::Template {
        return validate_template_alone(source, findings);
    }
    validate_loaded(source, findings)
}

fn validate_template_alone(source: SourceFile, mut findings: Vec<Finding>) -> Validation {
    let copy = source.clone();
    match Template::new(source, None) {
        Err(errors) => findings.extend(errors),
        Ok(t) => {
            let node = NodeVars::new(BTreeMap::new());
            for v in validate_fleet(&t, std::slice::from_ref(&node)) {
                findings.extend(v.findings);
            }
        }
    }
    diagnostic::sort(&mut findings);
    validation_of(copy, findings)
}
