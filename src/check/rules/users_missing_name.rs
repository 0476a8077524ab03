//! `kindling::users::missing-name`: a user without a name.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::users_missing_name`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::users_missing_name::RULE;

/// Check every user.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for user in cx.config.users() {
        if user.value.name.as_ref().is_none_or(|n| n.value.is_empty()) {
            out.push(RULE.at(user.span, "this user has no name"));
        }
    }
}
