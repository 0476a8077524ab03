//! What validating one input yields ([`Validation`]): the text, the YAML tree and the typed
//! config when there are any, and every finding. The reports (`report`) render a list of
//! these; a file that is not a cloud-config (a variables file, an inventory, a template's
//! included file) is one too, with no tree and an empty config ([`validation_of`]).

use crate::diagnostic::{Finding, Severity};
use crate::model::CloudConfig;
use crate::source::{Node, SourceFile};
use crate::template::InputFile;

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

/// A validation of a file that is not a cloud-config (no tree, no config).
#[must_use]
pub fn validation_of(source: SourceFile, findings: Vec<Finding>) -> Validation {
    Validation {
        source,
        root: None,
        config: CloudConfig::default(),
        findings,
    }
}

/// A variables file or an inventory as read, as a validation for the reports.
#[must_use]
pub fn input_file(file: InputFile) -> Validation {
    validation_of(file.source, file.findings)
}
