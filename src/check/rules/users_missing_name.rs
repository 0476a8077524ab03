//! `kindling::users::missing-name`: a user without a name.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::users_missing_name`].

use super::shared::missing;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::users_missing_name::RULE;

/// Check every user.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for span in missing(cx.config.users(), |u| u.name.as_ref()) {
        out.push(RULE.at(span, "this user has no name"));
    }
}
