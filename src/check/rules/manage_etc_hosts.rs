//! `kindling::manage-etc-hosts::unsupported`: a `manage_etc_hosts` value other than
//! `localhost`.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::manage_etc_hosts`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::manage_etc_hosts::RULE;

/// Check the value.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(value) = &cx.config.manage_etc_hosts else {
        return;
    };
    if !value.value.is_empty() && value.value != "localhost" {
        out.push(RULE.at(
            value.span,
            format!(
                "{:?} is not supported; the node aborts the whole apply",
                value.value
            ),
        ));
    }
}
