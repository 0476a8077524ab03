//! How a plan is collected: files (a later write to a path replaces the earlier one) and
//! actions in order, and the one reading of an optional config text the steps share.

use super::types::{Action, ActionKind, Effect, Plan, PlannedFile};
use crate::diagnostic::Span;
use crate::model::Spanned;

/// Collects files and actions; a later file at the same path replaces the earlier one,
/// as the later write does on the node.
#[derive(Default)]
pub(super) struct Builder {
    pub(super) plan: Plan,
    /// Paths already planned, so that the common case (a new path) stays O(1).
    paths: std::collections::HashSet<String>,
}

impl Builder {
    pub(super) fn file(&mut self, file: PlannedFile) {
        if !self.paths.insert(file.path.clone()) {
            self.plan.files.retain(|f| f.path != file.path);
        }
        self.plan.files.push(file);
    }

    pub(super) fn action(&mut self, kind: ActionKind, effect: Effect, span: Span) {
        self.plan.actions.push(Action { kind, effect, span });
    }
}

pub(super) fn text(value: Option<&Spanned<String>>) -> Option<&str> {
    value.map(|v| v.value.as_str()).filter(|v| !v.is_empty())
}
