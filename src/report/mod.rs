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
    /// Files read.
    pub files: usize,
    /// Errors.
    pub errors: usize,
    /// Warnings.
    pub warnings: usize,
    /// Infos.
    pub infos: usize,
}

impl Summary {
    /// Count the findings of several validations.
    #[must_use]
    pub fn of(results: &[Validation]) -> Self {
        let mut s = Summary {
            files: results.len(),
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

    /// `2 files: 1 error, 3 warnings, 0 infos`.
    #[must_use]
    pub fn line(&self) -> String {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "{}: {}, {}, {}",
            plural(self.files, "file"),
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            plural(self.infos, "info")
        )
    }
}
