//! One render budget for a whole inventory: every render of a [`super::Template`] draws on
//! it, whatever node it is for. A render that hits a limit (fuel, recursion, output) spends
//! it at once, so the other nodes of the inventory are not rendered (each reports that the
//! template was stopped, at the same position), and the steps of all renders together are
//! capped at [`INVENTORY_FUEL`], so a template just under the per-render limit cannot cost
//! that limit once per node. Contract: counts only; it never renders or reads anything.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::files::Located;

/// Steps all the renders of one template may take together: 500 renders at the per-render
/// limit ([`super::FUEL`]), a billion steps (about 10 s of a release build). A 100-line
/// fleet template takes a few thousand steps a node, so a 10,000-node inventory stays far
/// below (100,000 steps a node would be needed to reach it); a template just under the
/// per-render limit stops after 500 nodes instead of costing the limit on every node.
pub const INVENTORY_FUEL: u64 = 500 * super::engine::FUEL;

/// What the renders of one template used so far, and the finding that stopped them.
#[derive(Debug, Default)]
pub(super) struct Budget {
    used: AtomicU64,
    stopped: Mutex<Option<Located>>,
}

impl Budget {
    /// The finding every further render reports, once the budget is spent.
    pub(super) fn stopped(&self) -> Option<Located> {
        self.stopped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Spend the budget: renders from now on report `finding` (the first one to stop stays).
    pub(super) fn stop(&self, finding: Located) {
        let mut stopped = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        if stopped.is_none() {
            *stopped = Some(finding);
        }
    }

    /// Charge `steps`; whether the inventory's budget is now spent.
    pub(super) fn charge(&self, steps: u64) -> bool {
        let before = self.used.fetch_add(steps, Ordering::Relaxed);
        before.saturating_add(steps) > INVENTORY_FUEL
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Span;

    #[test]
    fn the_budget_is_spent_past_the_inventory_fuel_and_the_first_stop_stays() {
        let budget = Budget::default();
        assert!(!budget.charge(INVENTORY_FUEL - 1));
        assert!(!budget.charge(1));
        assert!(budget.charge(1));
        assert!(budget.stopped().is_none());
        let located = |message: &str| Located {
            file: 0,
            finding: crate::rules::template_limits::RULE.at(Span::point(0), message),
            included_at: None,
        };
        budget.stop(located("first"));
        budget.stop(located("second"));
        assert_eq!(budget.stopped().unwrap().finding.message, "first");
    }
}
