//! `kindling::write-files::permissions`: `write_files[].permissions` values.

use crate::diagnostic::{Rule, Severity};
use crate::model::ValueRule;

/// The rule.
pub static RULE: Rule = Rule {
    code: "kindling::write-files::permissions",
    severity: Severity::Error,
    summary: "file permissions that are not a 3- or 4-digit octal mode",
    help: "write the mode in octal, e.g. '0644' or '0755' (quoting is optional)",
    explanation: "`permissions` is always read as octal text, with or without a leading zero: \
`0644`, `644` and `'0644'` are the same mode. Symbolic modes (`rwxr--r--`), digits 8 and 9, \
and more than four digits are refused, as on the node.",
    example: "#cloud-config\nwrite_files:\n  - path: /opt/bin/run\n    permissions: rwxr-xr-x\n    content: echo hi\n",
    fixed: "#cloud-config\nwrite_files:\n  - path: /opt/bin/run\n    permissions: '0755'\n    content: echo hi\n",
};

/// The value check: `^0?[0-7]{3,4}$`.
pub static VALUE: ValueRule = ValueRule { rule: &RULE, check };

fn check(text: &str) -> Result<(), String> {
    let digits = text
        .strip_prefix('0')
        .filter(|d| d.len() >= 3)
        .unwrap_or(text);
    if (3..=4).contains(&digits.len()) && digits.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return Ok(());
    }
    if text.contains(['r', 'w', 'x']) {
        return Err(format!("{text:?} is a symbolic mode; write it in octal"));
    }
    Err(format!("{text:?} is not an octal mode"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn peer_values() {
        for ok in ["744", "0744", "1744", "01744", "0644", "4755"] {
            assert!(super::check(ok).is_ok(), "{ok}");
        }
        for bad in [
            "11744",
            "rwxr--r--",
            "800",
            "0o644",
            "0777777",
            "64",
            "0x1ed",
        ] {
            assert!(super::check(bad).is_err(), "{bad}");
        }
    }
}
