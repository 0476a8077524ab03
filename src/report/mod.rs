//! Report: findings rendered for people (`human`, miette) and for tools (`json`, `sarif`,
//! `github` workflow commands).
//!
//! Rendering never changes findings; it only formats them. Line and column numbers are
//! 1-based, columns count characters, and `end_*` is exclusive, in every format.

pub mod github;
pub mod human;
pub mod json;
pub mod sarif;

use crate::diagnostic::Severity;
use crate::validate::Validation;

/// Counts of findings by severity.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    /// Config files checked (not the variables files, inventories and partials they use).
    pub files: usize,
    /// The nodes a template was checked for, when an inventory gave them.
    pub nodes: Option<usize>,
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Infos.
    pub infos: usize,
}

impl Summary {
    /// Count the findings of several validations, each validation one config file.
    #[must_use]
    pub fn of(results: &[Validation]) -> Self {
        Summary::of_files(results, results.len(), None)
    }

    /// Count the findings of several validations, of `files` config files checked (the
    /// rest being the variables files, inventories and partials they use) for `nodes`.
    #[must_use]
    pub fn of_files(results: &[Validation], files: usize, nodes: Option<usize>) -> Self {
        let mut s = Summary {
            files,
            nodes,
            ..Summary::default()
        };
        for finding in results.iter().flat_map(|r| &r.findings) {
            match finding.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.infos += 1,
            }
        }
        s
    }

    /// `2 files: 1 error, 3 warnings, 0 infos`, or `1 file for 5 nodes: ...`.
    #[must_use]
    pub fn line(&self) -> String {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        let nodes = self
            .nodes
            .map(|n| format!(" for {}", plural(n, "node")))
            .unwrap_or_default();
        format!(
            "{}{nodes}: {}, {}, {}",
            plural(self.files, "file"),
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.infos, "info")
        )
    }
}
