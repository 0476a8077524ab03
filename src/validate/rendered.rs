//! Validating a text that is not rendered again: a cloud-config is parsed, read and checked;
//! a multipart user-data is split and each cloud-config part validated the same way (the
//! two call each other, so they live together); any other kind only gets the load's
//! findings. Suppression comments apply last.

use super::parts::{PartMapper, as_cloud_config, conflicts};
use super::validation::{Validation, validation_of};
use crate::diagnostic::{self, Finding, Severity};
use crate::model::{self, CloudConfig};
use crate::plan::PlanOptions;
use crate::source::multipart::{PartKind, split};
use crate::source::{self, SourceFile, UserData};
use crate::template::vars::parse_tree;
use crate::{check, rules};

/// Validate the output of a template: like [`validate`](super::validate), but a text that is itself a
/// template is not rendered again (it is not a cloud-config, and a node would refuse it).
#[must_use]
pub fn validate_rendered(name: &str, bytes: Vec<u8>) -> Validation {
    let (source, mut findings) = source::load(name, bytes);
    if source.kind == UserData::Template {
        let first = source.index.line_end(&source.text, 1);
        findings.push(rules::source_not_cloud_config::RULE.at(
            diagnostic::Span::new(0, first),
            "the rendered text starts with a template header again; it must start with #cloud-config",
        ));
    }
    validate_loaded(source, findings)
}

/// Validate a loaded text that is not a template (`findings` are the load's).
pub(super) fn validate_loaded(source: SourceFile, mut findings: Vec<Finding>) -> Validation {
    if source.kind == UserData::Multipart {
        return validate_multipart(source, findings);
    }
    let mut root = None;
    let mut config = CloudConfig::default();
    if source.kind == UserData::CloudConfig {
        // Like the node: after a YAML error nothing else can be said reliably.
        if let Some(tree) = parse_tree(&source, &mut findings) {
            config = model::read(Some(&tree));
            findings.extend(check::check(&source, &tree, &config));
            root = Some(tree);
        }
    }
    check::suppress::apply(&source, &mut findings);
    diagnostic::sort(&mut findings);
    Validation {
        source,
        root,
        config,
        findings,
    }
}

/// Validate a multipart user-data: split it, validate each cloud-config part, report parts
/// that are skipped and what two parts both write. `findings` are the load's.
#[must_use]
pub(super) fn validate_multipart(source: SourceFile, mut findings: Vec<Finding>) -> Validation {
    let done = |source, mut findings: Vec<Finding>| {
        crate::diagnostic::sort(&mut findings);
        validation_of(source, findings)
    };
    if findings.iter().any(|f| f.severity == Severity::Error) {
        return done(source, findings);
    }
    let parts = match split(&source.text) {
        Ok(s) => s,
        Err(f) => {
            findings.push(f);
            return done(source, findings);
        }
    };
    findings.extend(parts.findings);
    let mut plans = Vec::new();
    for part in parts
        .parts
        .iter()
        .filter(|p| p.kind == PartKind::CloudConfig)
    {
        let (text, prefix) = as_cloud_config(part);
        let v = validate_rendered(&part.label(), text.into_bytes());
        let map = PartMapper { part, prefix };
        let failed = v.has(Severity::Error);
        for f in v.findings.iter().cloned() {
            findings.push(map.finding(f, &v.source));
        }
        if !failed {
            let plan = crate::plan::plan(&v.config, &PlanOptions::default());
            plans.push((part.number, map.plan(plan)));
        }
    }
    findings.extend(conflicts(&plans));
    done(source, findings)
}
