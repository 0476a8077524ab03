//! What a compile is asked for ([`Options`]: the target, the node's `$` values, the plan's
//! options) and what it yields ([`Compiled`]).

use std::collections::BTreeMap;

use crate::diagnostic::Finding;
use crate::plan::{Plan, PlanOptions};
use crate::validate::Validation;

/// What to compile to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A directory laid out like the node's root, with a manifest.
    Tree,
    /// An Ignition v3.3.0 config.
    Ignition,
}

/// Options of a compile.
#[derive(Debug, Clone)]
pub struct Options {
    /// The target.
    pub target: Target,
    /// Values of `public_ipv4` and friends.
    pub vars: BTreeMap<String, String>,
    /// See [`PlanOptions`].
    pub plan: PlanOptions,
}

/// The outcome.
#[derive(Debug)]
pub struct Compiled {
    /// The validation of the text as written: every span of `findings` and `plan` points
    /// into its source, also for findings about the substituted text.
    pub validation: Validation,
    /// Every finding: validation, substitution and target checks.
    pub findings: Vec<Finding>,
    /// The plan, when nothing stops it.
    pub plan: Option<Plan>,
}
