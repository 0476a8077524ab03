//! `kindling::update::insecure-server`: an update server reached over plain HTTP.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::update_insecure_server`].

use super::shared::update_key;
use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::update_insecure_server::RULE;

/// Check the server.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(server) = update_key(cx, |u| u.server.as_ref()) else {
        return;
    };
    if !server.value.is_empty() && !server.value.starts_with("https://") {
        out.push(RULE.at(
            server.span,
            format!("the update server {:?} is not https", server.value),
        ));
    }
}
