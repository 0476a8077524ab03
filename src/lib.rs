//! kindling: compile, lint, preview and apply `#cloud-config` for CoreOS-style fleets.
//!
//! The pipeline is `source -> model -> check -> plan -> emit` (`diff`, `apply` and the
//! agent come next). `source` reads and classifies user-data and builds a spanned YAML tree;
//! `model` reads the typed config from it; `check` returns every finding; `compile`
//! substitutes per-node variables and `plan` turns the config into files and actions, which
//! `emit` renders as a tree or an Ignition config. Findings are
//! data (`diagnostic`), catalogued in `rules`, and rendered by `report`. `cli` is the
//! command line; `main.rs` only calls it.

pub mod agent;
pub mod apply;
pub mod calendar;
pub mod check;
pub mod cli;
pub mod compile;
pub mod datasource;
pub mod diagnostic;
pub mod diff;
pub mod emit;
pub mod encoding;
pub mod fleet;
pub mod lock;
pub mod model;
pub mod omaha;
pub mod payload;
pub mod plan;
pub mod reboot;
pub mod report;
pub mod root;
pub mod rules;
pub mod schema;
pub mod slots;
pub mod source;
pub mod template;
pub mod units;
pub mod update_server;

use diagnostic::{Finding, Severity};
use model::CloudConfig;
use source::{Node, SourceFile, UserData};

/// The outcome of validating one input.
#[derive(Debug)]
pub struct Validation {
    /// The loaded text.
    pub source: SourceFile,
    /// The YAML tree, when the input is a cloud-config that parsed.
    pub root: Option<Node>,
    /// The typed config (empty when there is none).
    pub config: CloudConfig,
    /// Every finding, sorted by position.
    pub findings: Vec<Finding>,
}

impl Validation {
    /// Whether any finding is at least `severity`.
    #[must_use]
    pub fn has(&self, severity: Severity) -> bool {
        self.findings.iter().any(|f| f.severity >= severity)
    }
}

/// Validate raw user-data named `name`: classify, parse, read and check it.
#[must_use]
pub fn validate(name: &str, bytes: Vec<u8>) -> Validation {
    let (source, mut findings) = source::load(name, bytes);
    let mut root = None;
    let mut config = CloudConfig::default();
    if source.kind == UserData::CloudConfig {
        let parsed = source::yaml::parse(&source.text, &source.index);
        let failed = parsed
            .findings
            .iter()
            .any(|f| f.severity == Severity::Error);
        findings.extend(parsed.findings);
        // Like the node: after a YAML error nothing else can be said reliably.
        if !failed && let Some(tree) = parsed.root {
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
