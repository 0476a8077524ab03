//! `kindling::update::reboot-hooks`: the commands run around a reboot kindling makes.
//!
//! The check of what the value checks cannot see: a timeout without its command (it does
//! nothing) and reboot hooks with nothing set. The rule itself is
//! [`crate::rules::update_reboot_hooks`]; each command and timeout is checked by
//! `model::values::HOOK_COMMAND` and `HOOK_TIMEOUT`.

use super::shared::update_key;
use crate::check::Context;
use crate::diagnostic::{Finding, Severity};
use crate::rules::update_reboot_hooks::RULE;

/// Check the timeouts against their commands.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    let Some(hooks) = update_key(cx, |u| u.reboot_hooks.as_ref()) else {
        return;
    };
    let h = &hooks.value;
    let set = |c: &Option<crate::model::Spanned<String>>| {
        c.as_ref().is_some_and(|c| !c.value.trim().is_empty())
    };
    for (timeout, command, name) in [
        (&h.pre_reboot_timeout, set(&h.pre_reboot), "pre-reboot"),
        (&h.post_boot_timeout, set(&h.post_boot), "post-boot"),
    ] {
        if let Some(t) = timeout.as_ref().filter(|_| !command) {
            out.push(
                RULE.at(
                    t.key_span,
                    format!("{name}-timeout is set but {name} is not; the timeout does nothing"),
                )
                .with_severity(Severity::Warning)
                .with_help(format!(
                    "set {name} to the command to run, or remove {name}-timeout"
                )),
            );
        }
    }
    if !set(&h.pre_reboot)
        && !set(&h.post_boot)
        && h.pre_reboot_timeout.is_none()
        && h.post_boot_timeout.is_none()
    {
        out.push(
            RULE.at(
                hooks.key_span,
                "reboot-hooks sets no hook; nothing runs around a reboot",
            )
            .with_severity(Severity::Warning),
        );
    }
}
