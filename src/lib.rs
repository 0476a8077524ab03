//! kindling: compile, lint, preview and apply `#cloud-config` for CoreOS-style fleets.
//!
//! The compiler is `source -> model -> check -> plan -> emit`, then `diff` and `apply`
//! against a root. `source` reads and classifies user-data and builds a spanned YAML tree
//! (`template` renders `## template: jinja` configs per node first); `model` reads the typed
//! config from it; `check` returns every finding; `compile` substitutes per-node variables
//! and `plan` turns the config into files and actions, which `emit` renders as a tree or an
//! Ignition config. Findings are data (`diagnostic`), catalogued in `rules`, and rendered by
//! `report`. `datasource` fetches user-data and metadata at boot.
//!
//! The node's other half is the `agent` (update_engine's state machine): `omaha` talks to the
//! update server, `payload` downloads and verifies into the passive slot of `slots`, and the
//! reboot waits for the `reboot` window and the `lock`; `update_server` and `lock::server`
//! are the servers. `cli` is the command line; `main.rs` only calls it.

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
pub mod machine;
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
pub mod suggest;
pub mod template;
pub mod units;
pub mod update_server;
pub mod wait;
pub mod xml;

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
///
/// A template (`## template: jinja`) is rendered with no variables (and no includes), so its
/// syntax, its undefined variables and the findings of what it renders are reported at
/// template positions; `template::validate_fleet` renders it with variables.
#[must_use]
pub fn validate(name: &str, bytes: Vec<u8>) -> Validation {
    let (source, findings) = source::load(name, bytes);
    if source.kind == UserData::Template {
        return validate_template_alone(source, findings);
    }
    validate_loaded(source, findings)
}

/// Validate the output of a template: like [`validate`], but a text that is itself a
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

fn validate_template_alone(
    source: source::SourceFile,
    mut findings: Vec<diagnostic::Finding>,
) -> Validation {
    let copy = source.clone();
    match template::Template::new(source, None) {
        Err(errors) => findings.extend(errors),
        Ok(t) => {
            let node = template::Node::new(std::collections::BTreeMap::new());
            for v in template::validate_fleet(&t, std::slice::from_ref(&node)) {
                findings.extend(v.findings);
            }
        }
    }
    diagnostic::sort(&mut findings);
    Validation {
        source: copy,
        root: None,
        config: CloudConfig::default(),
        findings,
    }
}

fn validate_loaded(
    source: source::SourceFile,
    mut findings: Vec<diagnostic::Finding>,
) -> Validation {
    if source.kind == UserData::Multipart {
        return compile::multipart::validate(source, findings);
    }
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
