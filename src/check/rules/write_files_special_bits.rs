//! `kindling::write-files::special-bits`: a file mode with setuid, setgid or sticky bits.
//!
//! The check; the rule itself (code, severity, help, book text) is
//! [`crate::rules::write_files_special_bits`].

use crate::check::Context;
use crate::diagnostic::Finding;
use crate::rules::write_files_special_bits::RULE;

/// Check every mode.
pub fn check(cx: &Context<'_>, out: &mut Vec<Finding>) {
    for file in cx.config.write_files() {
        let Some(perm) = &file.value.permissions else {
            continue;
        };
        let Ok(mode) = u32::from_str_radix(&perm.value, 8) else {
            continue;
        };
        let special = mode & 0o7000;
        if special == 0 || mode > 0o7777 {
            continue;
        }
        let mut bits = Vec::new();
        if special & 0o4000 != 0 {
            bits.push("setuid");
        }
        if special & 0o2000 != 0 {
            bits.push("setgid");
        }
        if special & 0o1000 != 0 {
            bits.push("sticky");
        }
        out.push(RULE.at(
            perm.span,
            format!(
                "mode {:04o} sets the {} bit{}",
                mode,
                bits.join(" and "),
                if bits.len() > 1 { "s" } else { "" }
            ),
        ));
    }
}
